"""The actor catalogue: the built-in YAML files, an optional file of the desk's own, and every
ISO 3166-1 state.

The built-in catalogue ships as package data (``data/catalogue/``): ``states.yaml`` (names,
demonyms, capitals and seats of states, in English, Russian and French), ``people.yaml``,
``organisations.yaml`` and ``treaties.yaml``. A desk adds or overrides entries with a file of
its own in the same format (``MEDIAWATCH_ACTORS_FILE``); an entry with a built-in id replaces
the built-in one.

Every file is validated by the pydantic models below, and the first problem is reported as an
:class:`ActorCatalogueError` naming the file, the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pycountry
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "CATALOGUE_LANGUAGES",
    "Actor",
    "ActorCatalogue",
    "ActorCatalogueError",
    "ActorType",
    "Forms",
    "builtin_catalogue_files",
    "load_actor_catalogue",
]

ActorType = Literal["person", "state", "organisation", "bloc", "treaty"]

#: Languages the catalogue carries names for, besides English.
CATALOGUE_LANGUAGES: tuple[str, ...] = ("ru", "fr")

_PREFIX: dict[str, str] = {
    "person": "person",
    "state": "state",
    "organisation": "org",
    "bloc": "org",
    "treaty": "treaty",
}
_ID_PATTERN = r"^(person|state|org|treaty):[a-z0-9]+(?:-[a-z0-9]+)*$"
_QID_PATTERN = r"^Q[1-9][0-9]*$"
_CODE_PATTERN = r"^[a-z]{2}$"


class ActorCatalogueError(ValueError):
    """A catalogue file is invalid; the message names the file, the entry and the field."""


# --------------------------------------------------------------------------- file models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clean_names(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"must be a list of non-empty strings, got {item!r}")
            out.append(item.strip())
        return out
    return value


class LanguageForms(_Strict):
    """The surface forms of one actor in one language (Russian: nominative case)."""

    aliases: list[str] = Field(default_factory=list)
    weak_aliases: list[str] = Field(default_factory=list)
    capitals: list[str] = Field(default_factory=list)
    seats: list[str] = Field(default_factory=list)

    _names = field_validator("aliases", "weak_aliases", "capitals", "seats", mode="before")(
        _clean_names
    )

    def to_forms(self) -> Forms:
        return Forms(
            aliases=tuple(self.aliases),
            weak_aliases=tuple(self.weak_aliases),
            capitals=tuple(self.capitals),
            seats=tuple(self.seats),
        )


class StateLanguageForms(_Strict):
    """A state's names in one language."""

    names: list[str] = Field(default_factory=list)
    demonyms: list[str] = Field(default_factory=list)
    capitals: list[str] = Field(default_factory=list)
    seats: list[str] = Field(default_factory=list)

    _names = field_validator("names", "demonyms", "capitals", "seats", mode="before")(_clean_names)

    def to_forms(self) -> Forms:
        return Forms(
            aliases=tuple(self.names),
            demonyms=tuple(self.demonyms),
            capitals=tuple(self.capitals),
            seats=tuple(self.seats),
        )


WeakContext = Literal["name", "title", "country"]


def _default_weak_context() -> list[WeakContext]:
    return ["name", "title"]


class ActorEntry(_Strict):
    """One person, organisation, bloc or treaty."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    type: Literal["person", "organisation", "bloc", "treaty", "state"]
    wikidata: str | None = Field(default=None, pattern=_QID_PATTERN)
    country: str | None = Field(default=None, pattern=_CODE_PATTERN)
    role: str | None = None
    aliases: list[str] = Field(default_factory=list)
    weak_aliases: list[str] = Field(default_factory=list)
    weak_context: list[WeakContext] = Field(default_factory=_default_weak_context)
    capitals: list[str] = Field(default_factory=list)
    seats: list[str] = Field(default_factory=list)
    ru: LanguageForms = Field(default_factory=LanguageForms)
    fr: LanguageForms = Field(default_factory=LanguageForms)

    _names = field_validator("aliases", "weak_aliases", "capitals", "seats", mode="before")(
        _clean_names
    )

    @field_validator("type")
    @classmethod
    def _no_state_entries(cls, value: str) -> str:
        if value == "state":
            raise ValueError("states belong in states.yaml (keyed by ISO alpha-2 code)")
        return value

    def check_prefix(self) -> str | None:
        want = _PREFIX[self.type]
        if self.id.split(":", 1)[0] != want:
            return f"an actor of type {self.type} needs the {want}: prefix"
        return None


class ActorFile(_Strict):
    version: str
    actors: list[ActorEntry]

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


class StateEntry(_Strict):
    """What a state is called, beyond pycountry's ISO names."""

    name: str | None = None
    wikidata: str | None = Field(default=None, pattern=_QID_PATTERN)
    historic: bool = False
    names: list[str] = Field(default_factory=list)
    demonyms: list[str] = Field(default_factory=list)
    capitals: list[str] = Field(default_factory=list)
    seats: list[str] = Field(default_factory=list)
    name_like: list[str] = Field(default_factory=list)
    weak_names: list[str] = Field(default_factory=list)
    ru: StateLanguageForms = Field(default_factory=StateLanguageForms)
    fr: StateLanguageForms = Field(default_factory=StateLanguageForms)

    _names = field_validator(
        "names", "demonyms", "capitals", "seats", "name_like", "weak_names", mode="before"
    )(_clean_names)


class StateFile(_Strict):
    version: str
    states: dict[str, StateEntry]
    blockers: list[str] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Forms:
    """An actor's surface forms in one language."""

    aliases: tuple[str, ...] = ()
    weak_aliases: tuple[str, ...] = ()
    demonyms: tuple[str, ...] = ()
    capitals: tuple[str, ...] = ()
    seats: tuple[str, ...] = ()
    name_like: tuple[str, ...] = ()


@dataclass(frozen=True)
class Actor:
    """One catalogue entry, with its names in every language (``forms["en"]`` and so on)."""

    id: str
    name: str
    type: ActorType
    forms: Mapping[str, Forms]
    wikidata: str | None = None
    weak_context: frozenset[str] = frozenset({"name", "title"})
    country: str | None = None
    role: str | None = None
    alpha2: str | None = None
    alpha3: str | None = None
    curated: bool = False

    def en(self) -> Forms:
        return self.forms.get("en", Forms())

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.en().aliases

    @property
    def demonyms(self) -> tuple[str, ...]:
        return self.en().demonyms

    @property
    def capitals(self) -> tuple[str, ...]:
        return self.en().capitals

    @property
    def seats(self) -> tuple[str, ...]:
        return self.en().seats


@dataclass(frozen=True)
class ActorCatalogue:
    """All actors, by id. ``version`` joins the versions of the files read."""

    version: str
    actors: tuple[Actor, ...]
    sources: tuple[Path, ...]
    blockers: tuple[str, ...] = ()
    by_id: Mapping[str, Actor] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.by_id:
            object.__setattr__(self, "by_id", {actor.id: actor for actor in self.actors})

    def get(self, actor_id: str) -> Actor | None:
        return self.by_id.get(actor_id)

    def __getitem__(self, actor_id: str) -> Actor:
        return self.by_id[actor_id]

    def __contains__(self, actor_id: object) -> bool:
        return actor_id in self.by_id

    def __iter__(self) -> Iterator[Actor]:
        return iter(self.actors)

    def __len__(self) -> int:
        return len(self.actors)


# --------------------------------------------------------------------------- loading


def builtin_catalogue_files() -> dict[str, Path]:
    """The package's own catalogue files, by name (``states``, ``people``, ...)."""
    root = resources.files("mediawatch.tagger") / "data" / "catalogue"
    return {
        name: Path(str(root / f"{name}.yaml"))
        for name in ("states", "organisations", "people", "treaties")
    }


def _err(path: Path, entry: str | None, fld: str | None, problem: str) -> ActorCatalogueError:
    where = str(path)
    if entry is not None:
        where += f": entry {entry!r}"
    if fld is not None:
        where += f": field {fld!r}"
    return ActorCatalogueError(f"{where}: {problem}")


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _err(path, None, None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _err(path, None, None, f"not valid YAML: {exc}") from exc


def _from_validation(path: Path, raw: Any, exc: ValidationError, key: str) -> ActorCatalogueError:
    """Turn pydantic's first error into one that names the entry by its id."""
    first = exc.errors()[0]
    loc = list(first["loc"])
    entry: str | None = None
    if len(loc) >= 2 and loc[0] == key:
        index = loc[1]
        entry = str(index)
        if key == "actors" and isinstance(index, int) and isinstance(raw, dict):
            items = raw.get("actors")
            item = items[index] if isinstance(items, list) and index < len(items) else None
            ident = item.get("id") if isinstance(item, dict) else None
            entry = str(ident) if ident else f"#{index + 1}"
        elif key == "states":
            entry = f"state:{index}"
        loc = loc[2:]
    fld = ".".join(str(part) for part in loc if not isinstance(part, int)) or None
    return _err(path, entry, fld, first["msg"])


def _parse_actor_file(path: Path) -> ActorFile:
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise _err(path, None, None, "must be a mapping with 'version' and 'actors'")
    try:
        parsed = ActorFile.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(path, raw, exc, "actors") from None
    seen: set[str] = set()
    for entry in parsed.actors:
        problem = entry.check_prefix()
        if problem:
            raise _err(path, entry.id, "id", problem)
        if entry.id in seen:
            raise _err(path, entry.id, "id", "duplicate id")
        seen.add(entry.id)
        if entry.country is not None and entry.type == "treaty":
            raise _err(path, entry.id, "country", "treaties have no country")
        if (entry.capitals or entry.ru.capitals or entry.fr.capitals) and entry.type not in (
            "organisation",
            "bloc",
        ):
            raise _err(path, entry.id, "capitals", "only organisations and blocs have one")
    return parsed


def _parse_state_file(path: Path) -> StateFile:
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise _err(path, None, None, "must be a mapping with 'version' and 'states'")
    try:
        parsed = StateFile.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(path, raw, exc, "states") from None
    iso = {str(c.alpha_2).lower() for c in pycountry.countries}
    for code, entry in parsed.states.items():
        if not re.match(_CODE_PATTERN, code):
            raise _err(path, f"state:{code}", None, "keys are ISO alpha-2 codes in lower case")
        if code not in iso and not (entry.historic and entry.name):
            raise _err(
                path,
                f"state:{code}",
                None,
                "not an ISO 3166-1 code; a historic state needs 'historic: true' and a name",
            )
    return parsed


def _iso_names(country: Any) -> list[str]:
    names: list[str] = []
    for attr in ("common_name", "name", "official_name"):
        value = getattr(country, attr, None)
        if not isinstance(value, str):
            continue
        if "," in value:
            # "Korea, Republic of" -> "Republic of Korea"; other comma names are skipped.
            head, _, tail = value.partition(", ")
            if not (tail.endswith((" of", " of the")) or " " not in tail):
                continue
            value = f"{tail} {head}"
        value = re.sub(r"\s*\(.*?\)\s*", " ", value).strip()
        if value.lower().startswith("the "):
            value = value[4:]
        if value and value not in names:
            names.append(value)
    return names


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _state_actor(code: str, entry: StateEntry, country: Any | None) -> Actor:
    iso = _iso_names(country) if country is not None else []
    name = entry.name or (iso[0] if iso else code.upper())
    english = Forms(
        aliases=tuple(a for a in _unique([*iso, *entry.names]) if a != name),
        weak_aliases=tuple(entry.weak_names),
        demonyms=tuple(entry.demonyms),
        capitals=tuple(entry.capitals),
        seats=tuple(entry.seats),
        name_like=tuple(entry.name_like),
    )
    forms = {"en": english}
    forms.update({lang: getattr(entry, lang).to_forms() for lang in CATALOGUE_LANGUAGES})
    return Actor(
        id=f"state:{code}",
        name=name,
        type="state",
        forms=forms,
        wikidata=entry.wikidata,
        alpha2=str(country.alpha_2) if country is not None else None,
        alpha3=str(country.alpha_3) if country is not None else None,
        curated=bool(entry.wikidata or entry.name),
    )


def _entry_actor(entry: ActorEntry) -> Actor:
    forms = {
        "en": Forms(
            aliases=tuple(a for a in entry.aliases if a != entry.name),
            weak_aliases=tuple(entry.weak_aliases),
            capitals=tuple(entry.capitals),
            seats=tuple(entry.seats),
        )
    }
    forms.update({lang: getattr(entry, lang).to_forms() for lang in CATALOGUE_LANGUAGES})
    return Actor(
        id=entry.id,
        name=entry.name,
        type=entry.type,
        forms=forms,
        wikidata=entry.wikidata,
        weak_context=frozenset(entry.weak_context),
        country=entry.country,
        role=entry.role,
        curated=True,
    )


def _check_aliases(actors: Sequence[tuple[Path, Actor]]) -> None:
    """Two actors may not share a surface form in the same language."""
    owner: dict[tuple[str, str], str] = {}
    for path, actor in actors:
        for language, forms in actor.forms.items():
            names = [*forms.aliases, *forms.weak_aliases, *forms.seats, *forms.capitals]
            if language == "en":
                names.append(actor.name)
            for alias in names:
                key = (language, alias)
                first = owner.setdefault(key, actor.id)
                if first != actor.id:
                    raise _err(
                        path,
                        actor.id,
                        "aliases" if language == "en" else f"{language}.aliases",
                        f"alias {alias!r} is already used by {first!r}",
                    )


def load_actor_catalogue(path: Path | None = None) -> ActorCatalogue:
    """The built-in catalogue, with the entries of ``path`` (a desk's own file) on top.

    Raises :class:`ActorCatalogueError` naming the file, entry and field of the first problem.
    """
    files = builtin_catalogue_files()
    states = _parse_state_file(files["states"])
    entries: dict[str, tuple[Path, ActorEntry]] = {}
    versions = [states.version]
    for name in ("organisations", "people", "treaties"):
        parsed = _parse_actor_file(files[name])
        versions.append(parsed.version)
        for entry in parsed.actors:
            if entry.id in entries:
                raise _err(files[name], entry.id, "id", "duplicate id")
            entries[entry.id] = (files[name], entry)
    sources = [files["states"], files["organisations"], files["people"], files["treaties"]]
    if path is not None:
        user = _parse_actor_file(Path(path))
        versions.append(user.version)
        sources.append(Path(path))
        for entry in user.actors:
            entries[entry.id] = (Path(path), entry)

    actors: list[tuple[Path, Actor]] = []
    for country in pycountry.countries:
        code = str(country.alpha_2).lower()
        known = states.states.get(code, StateEntry())
        actors.append((files["states"], _state_actor(code, known, country)))
    iso = {str(c.alpha_2).lower() for c in pycountry.countries}
    for code, historic in states.states.items():
        if code not in iso:
            actors.append((files["states"], _state_actor(code, historic, None)))
    state_ids = {actor.id for _, actor in actors}
    for source, entry in entries.values():
        if entry.country is not None and f"state:{entry.country}" not in state_ids:
            raise _err(source, entry.id, "country", f"no state {entry.country!r}")
        actors.append((source, _entry_actor(entry)))
    _check_aliases(actors)
    return ActorCatalogue(
        version="+".join(versions),
        actors=tuple(actor for _, actor in actors),
        sources=tuple(sources),
        blockers=tuple(states.blockers),
    )
