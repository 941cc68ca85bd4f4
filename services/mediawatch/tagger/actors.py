"""The actor catalogue and the resolver that finds actors in article text.

The catalogue joins the curated ``deploy/config/actors.yaml`` (people, organisations, blocs,
treaties, and extra names and Wikidata QIDs for states) with every ISO 3166-1 state from
pycountry and the demonyms, alternative names and capital metonyms of ``data/demonyms.yaml``.

The resolver matches every alias of every actor with one Aho-Corasick automaton (case-sensitive,
so "US" is not "us"), keeps leftmost-longest matches on word boundaries and then judges the
matches that need context:

* weak aliases ("Xi", "May") need, per actor, a full name elsewhere in the article, a title
  right before them ("President Xi", "Prime Minister May") or a mention of the person's state;
* capital cities stand for a government only when the context says so. A capital is rejected
  when a place word precedes it ("in Moscow", "to Moscow", "of Paris") - also through a
  coordination ("in Moscow and Beijing") - or a capitalised word follows it ("Moscow State
  University", "Paris Club"); it is accepted when it is possessive ("Moscow's position"), is
  followed by a reporting or policy verb or an auxiliary ("Moscow insists", "Moscow has"), is
  coordinated with another state or capital ("Moscow and Beijing"), or follows a relational word
  ("between", "with", "against", "sanctions on"). Anything else is rejected;
* state names that double as given names ("Chad", "Jordan") are rejected before another
  capitalised word ("Jordan Peterson");
* short all-capital aliases ("US") are rejected inside all-capital runs ("LET US").

People who are not in the catalogue but are quoted or cited are found by
:mod:`mediawatch.tagger.people`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import pycountry
import yaml

from mediawatch.schemas import ActorTag, Evidence
from mediawatch.tagger.people import CitedPeopleFinder, Field

__all__ = [
    "DEFAULT_CATALOGUE_PATH",
    "DEMONYMS_PATH",
    "Actor",
    "ActorCatalogue",
    "ActorCatalogueError",
    "ActorResolver",
    "ActorType",
    "load_actor_catalogue",
]

ActorType = Literal["person", "state", "organisation", "bloc", "treaty"]

DEFAULT_CATALOGUE_PATH = Path(__file__).resolve().parents[3] / "deploy/config/actors.yaml"
DEMONYMS_PATH = Path(__file__).resolve().parent / "data" / "demonyms.yaml"

_TYPES: tuple[ActorType, ...] = ("person", "state", "organisation", "bloc", "treaty")
_PREFIX: dict[str, str] = {
    "person": "person",
    "state": "state",
    "organisation": "org",
    "bloc": "org",
    "treaty": "treaty",
}
_ID_RE = re.compile(r"^(person|state|org|treaty):[a-z0-9]+(?:-[a-z0-9]+)*$")
_QID_RE = re.compile(r"^Q[1-9][0-9]*$")
_CODE_RE = re.compile(r"^[a-z]{2}$")
_WEAK_CONTEXTS = frozenset({"name", "title", "country"})
_ACTOR_FIELDS = frozenset(
    {
        "id",
        "name",
        "type",
        "wikidata",
        "aliases",
        "weak_aliases",
        "weak_context",
        "country",
        "role",
        "capitals",
    }
)
_STATE_DATA_FIELDS = frozenset({"names", "demonyms", "capitals", "seats", "name_like"})


class ActorCatalogueError(ValueError):
    """The catalogue file (or the states data file) is invalid; the message names file, actor
    id and field."""


@dataclass(frozen=True)
class Actor:
    """One catalogue entry."""

    id: str
    name: str
    type: ActorType
    wikidata: str | None = None
    aliases: tuple[str, ...] = ()
    weak_aliases: tuple[str, ...] = ()
    weak_context: frozenset[str] = frozenset({"name", "title"})
    demonyms: tuple[str, ...] = ()
    capitals: tuple[str, ...] = ()
    seats: tuple[str, ...] = ()
    name_like: tuple[str, ...] = ()
    country: str | None = None
    role: str | None = None
    alpha2: str | None = None
    alpha3: str | None = None
    curated: bool = False


@dataclass(frozen=True)
class ActorCatalogue:
    """All actors, by id; ``version`` is the curated file's version."""

    version: str
    actors: tuple[Actor, ...]
    source: Path
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


def _err(path: Path, actor: str | None, fld: str | None, problem: str) -> ActorCatalogueError:
    where = str(path)
    if actor is not None:
        where += f": actor {actor!r}"
    if fld is not None:
        where += f": field {fld!r}"
    return ActorCatalogueError(f"{where}: {problem}")


def _str_list(value: Any, path: Path, actor: str, fld: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(path, actor, fld, f"must be a list of strings, got {type(value).__name__}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _err(path, actor, fld, f"must be a list of non-empty strings, got {item!r}")
        out.append(item.strip())
    return tuple(out)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _err(path, None, None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _err(path, None, None, f"not valid YAML: {exc}") from exc


def _parse_actor(raw: Any, index: int, path: Path) -> Actor:
    label = f"#{index + 1}"
    if not isinstance(raw, dict):
        raise _err(path, label, None, "each actor must be a mapping")
    actor_id = raw.get("id")
    if not isinstance(actor_id, str) or not _ID_RE.match(actor_id):
        raise _err(
            path,
            actor_id if isinstance(actor_id, str) else label,
            "id",
            "must look like person:<slug>, state:<alpha-2>, org:<slug> or treaty:<slug> "
            "(lower-case letters, digits and hyphens)",
        )
    unknown = sorted(set(raw) - _ACTOR_FIELDS)
    if unknown:
        raise _err(path, actor_id, unknown[0], "unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _err(path, actor_id, "name", "required, a non-empty string")
    kind = raw.get("type")
    if kind not in _TYPES:
        raise _err(path, actor_id, "type", f"must be one of {', '.join(_TYPES)}, got {kind!r}")
    prefix = actor_id.split(":", 1)[0]
    if _PREFIX[kind] != prefix:
        raise _err(
            path, actor_id, "id", f"an actor of type {kind} needs the {_PREFIX[kind]}: prefix"
        )
    if kind == "state" and not _CODE_RE.match(actor_id.split(":", 1)[1]):
        raise _err(path, actor_id, "id", "a state id is state:<ISO 3166-1 alpha-2, lower case>")
    wikidata = raw.get("wikidata")
    if wikidata is not None and (not isinstance(wikidata, str) or not _QID_RE.match(wikidata)):
        raise _err(
            path, actor_id, "wikidata", f"must be a QID like Q7747 or null, got {wikidata!r}"
        )
    weak_context_raw = raw.get("weak_context")
    weak_context = frozenset({"name", "title"})
    if weak_context_raw is not None:
        ctx = _str_list(weak_context_raw, path, actor_id, "weak_context")
        bad = [c for c in ctx if c not in _WEAK_CONTEXTS]
        if bad:
            raise _err(path, actor_id, "weak_context", f"unknown context {bad[0]!r}")
        weak_context = frozenset(ctx)
    country = raw.get("country")
    if country is not None:
        if kind != "person":
            raise _err(path, actor_id, "country", "only people have a country")
        if not isinstance(country, str) or not _CODE_RE.match(country):
            raise _err(path, actor_id, "country", "must be an ISO alpha-2 code in lower case")
    role = raw.get("role")
    if role is not None and not isinstance(role, str):
        raise _err(path, actor_id, "role", "must be a string")
    capitals = _str_list(raw.get("capitals"), path, actor_id, "capitals")
    if capitals and kind not in ("state", "bloc", "organisation"):
        raise _err(path, actor_id, "capitals", "only states, blocs and organisations have one")
    return Actor(
        id=actor_id,
        name=name.strip(),
        type=kind,
        wikidata=wikidata,
        aliases=_str_list(raw.get("aliases"), path, actor_id, "aliases"),
        weak_aliases=_str_list(raw.get("weak_aliases"), path, actor_id, "weak_aliases"),
        weak_context=weak_context,
        capitals=capitals,
        country=country,
        role=role,
        curated=True,
    )


def _parse_curated(path: Path) -> tuple[str, list[Actor]]:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise _err(path, None, None, "must be a mapping with 'version' and 'actors'")
    unknown = sorted(set(data) - {"version", "actors"})
    if unknown:
        raise _err(path, None, unknown[0], "unknown top-level field")
    version = data.get("version")
    if not isinstance(version, str | int | float) or isinstance(version, bool) or not str(version):
        raise _err(path, None, "version", "required, a string such as '2025.11.1'")
    raw_actors = data.get("actors")
    if not isinstance(raw_actors, list):
        raise _err(path, None, "actors", "required, a list of actors")
    actors: list[Actor] = []
    seen: set[str] = set()
    alias_owner: dict[str, str] = {}
    for index, raw in enumerate(raw_actors):
        actor = _parse_actor(raw, index, path)
        if actor.id in seen:
            raise _err(path, actor.id, "id", "duplicate id")
        seen.add(actor.id)
        for fld, names in (
            ("name", (actor.name,)),
            ("aliases", actor.aliases),
            ("weak_aliases", actor.weak_aliases),
            ("capitals", actor.capitals),
        ):
            for alias in names:
                owner = alias_owner.setdefault(alias, actor.id)
                if owner != actor.id:
                    raise _err(path, actor.id, fld, f"alias {alias!r} is already used by {owner!r}")
        actors.append(actor)
    return str(version), actors


def _parse_state_data(path: Path) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[str]]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("states"), dict):
        raise _err(path, None, "states", "required, a mapping from alpha-2 code to names")
    states: dict[str, dict[str, tuple[str, ...]]] = {}
    for code, entry in data["states"].items():
        label = f"state:{code}"
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise _err(path, label, None, "keys must be ISO alpha-2 codes in lower case")
        if not isinstance(entry, dict):
            raise _err(path, label, None, "each state must be a mapping")
        unknown = sorted(set(entry) - _STATE_DATA_FIELDS)
        if unknown:
            raise _err(path, label, unknown[0], "unknown field")
        states[code] = {k: _str_list(entry.get(k), path, label, k) for k in _STATE_DATA_FIELDS}
    blockers = list(_str_list(data.get("blockers"), path, "blockers", "blockers"))
    return states, blockers


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


def _merge_states(
    curated: list[Actor], state_data: Mapping[str, Mapping[str, tuple[str, ...]]]
) -> list[Actor]:
    by_id = {a.id: a for a in curated}
    states: list[Actor] = []
    for country in pycountry.countries:
        code = str(country.alpha_2).lower()
        actor_id = f"state:{code}"
        extra = state_data.get(code, {})
        iso = _iso_names(country)
        cur = by_id.pop(actor_id, None)
        fallback = [*extra.get("names", ()), str(country.name)]
        name = cur.name if cur is not None else (iso or fallback)[0]
        aliases = _unique([*iso, *extra.get("names", ()), *(cur.aliases if cur else ())])
        states.append(
            Actor(
                id=actor_id,
                name=name,
                type="state",
                wikidata=cur.wikidata if cur is not None else None,
                aliases=tuple(a for a in aliases if a != name),
                weak_aliases=cur.weak_aliases if cur is not None else (),
                weak_context=cur.weak_context if cur is not None else frozenset({"name", "title"}),
                demonyms=extra.get("demonyms", ()),
                capitals=_unique([*extra.get("capitals", ()), *(cur.capitals if cur else ())]),
                seats=extra.get("seats", ()),
                name_like=extra.get("name_like", ()),
                alpha2=str(country.alpha_2),
                alpha3=str(country.alpha_3),
                curated=cur is not None,
            )
        )
    # Curated states unknown to ISO 3166-1 (historic ones such as the Soviet Union) and all
    # other actors keep their curated form.
    return states + [a for a in curated if a.id in by_id]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def load_actor_catalogue(path: Path | None = None) -> ActorCatalogue:
    """Load and validate the curated catalogue and merge every ISO state into it.

    Raises :class:`ActorCatalogueError` naming the file, actor id and field of the first problem.
    """
    path = DEFAULT_CATALOGUE_PATH if path is None else Path(path)
    version, curated = _parse_curated(path)
    state_data, blockers = _parse_state_data(DEMONYMS_PATH)
    actors = _merge_states(curated, state_data)
    return ActorCatalogue(
        version=version, actors=tuple(actors), source=path, blockers=tuple(blockers)
    )


# --------------------------------------------------------------------------- matching

# Alias kinds, in the automaton payload.
_NAME, _WEAK, _DEMONYM, _CAPITAL, _SEAT, _NAME_LIKE, _BLOCK = range(7)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TITLE_BEFORE = re.compile(
    r"(?:\b(?:President|Premier|Minister|Chancellor|Secretary|Chairman|Leader|King|Queen|Prince|"
    r"Princess|Emperor|Sir|Dame|Lord|Lady|Senator|Sen\.|Governor|Gov\.|Commissioner|"
    r"Ambassador|PM|General|Gen\.|Vice-President|Secretary-General|Director-General)\s+)$"
)
_PLACE_WORDS = _words(
    "in to from at near into onto outside inside around across via through within of over "
    "above below beyond throughout visited visit visiting visits left leave leaving leaves "
    "arrived arrive arriving arrives reached reach landed fled flew fly flying travelled "
    "traveled travel travelling traveling returned return returning based live lives lived "
    "living born downtown central suburban greater streets mayor residents moved here there "
    "back including"
)
_RELATION_WORDS = _words(
    "between with against on by for than accused urged told warned pressed "
    "asked criticised criticized condemned sanctioned sanctioning sanctions pressure ties "
    "relations talks deal blamed blaming backed backing supported supporting punish punishing "
    "isolate isolating confront confronting engage engaging persuade convince reassure trust "
    "trusted distrust rebuked rebuke defied defy challenged challenge"
)
_GOV_VERBS = _words(
    "says said insists insisted claims claimed wants wanted warns warned accuses accused denies "
    "denied rejects rejected responded responds reacted reacts announced announces argues argued "
    "believes believed sees saw views viewed considers considered regards regarded hopes hoped "
    "fears feared seeks sought demands demanded refuses refused agreed agrees signed signs vowed "
    "vows threatened threatens plans planned intends intended expects expected confirmed "
    "confirms condemned condemns welcomed welcomes urged urges called calls pushed pushes pressed "
    "presses backed backs supports supported opposes opposed imposed imposes retaliated "
    "retaliates launched launches sent sends deployed deploys offered offers proposed proposes "
    "maintains maintained stressed stresses reiterated reiterates declared declares blamed "
    "blames accepted accepts approved approves decided decides chose chooses sanctioned "
    "sanctions expelled expels summoned summons recalled recognised recognized recognises "
    "recognizes has have had will would could should must might can cannot won't wouldn't "
    "can't did does didn't doesn't remains remained appears appeared seems seemed needs needed "
    "tried tries continues continued struck strikes moved moves took takes made makes "
    "insist want claim deny reject warn accuse see fear seek demand refuse agree sign "
    "vow threaten plan intend expect confirm condemn welcome urge push back support oppose "
    "impose retaliate launch send deploy offer propose maintain stress reiterate declare "
    "blame accept approve decide"
)
_ADVERBS = _words(
    "also now still already again quickly repeatedly reportedly officially publicly openly "
    "long never always firmly strongly clearly not has have had will would could should must "
    "may might can did does do is was has been"
)
_PLACE_NOUNS = _words(
    "streets street mayor metro subway airport airports residents suburbs outskirts centre "
    "center skyline city population citizens hotels restaurants parks museums districts "
    "district neighbourhoods neighborhoods region oblast police hotel hotels apartment court "
    "university office offices bureau correspondent station zoo suburb marathon stock "
    "exchange international time native resident home house school hospital"
)
_GAP_COORD = re.compile(r"^\s*(?:,|and|or|/|-|–|—|,\s*and)\s*$")
_PREV_WORD = re.compile(r"([\w']+)[^\w\n]*$")
_NEXT_WORDS = re.compile(r"^\s+([a-z][\w']*)(?:\s+([a-z][\w']*))?")
_POSSESSIVE = re.compile(r"^['’]s\b(?:\s+(\w+))?")
_DATE_AFTER = re.compile(r"[ \t]+\d")
_MONTHS = _words(
    "January February March April May June July August September October November December"
)
_DATE_WORDS = _words(
    "in on since until till by from through early late mid last next this of during before "
    "after between and or to"
)
_SENTENCE_OPENERS = _words(
    "The Then But And Yet So Now Still Also Meanwhile However Instead Today When While If "
    "Although Though Because Since After Before Even Only Why How What Indeed Thus Hence "
    "Moreover Nevertheless Nonetheless Clearly Obviously Perhaps Both Neither Either"
)
_NOT_GOV_PARTICIPLES = _words("based located situated headquartered born bred")
_FOLLOWED_BY_NAME = re.compile(r"[ \t]+[A-Z][a-z]")
_COORD_BEFORE = re.compile(r"([\w']+)\s+[A-Z][\w'’.-]*(?:\s*,\s*(?:and\s+)?|\s+(?:and|or)\s+)$")
_WORD_CHAR = re.compile(r"\w")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _ascii_fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).replace("ı", "i")


def _variants(alias: str, fold: bool) -> set[str]:
    alias = alias.strip()
    if alias.lower().startswith("the ") and len(alias) > 4:
        alias = alias[4:]
    out = {alias}
    if alias[:1].islower():
        out.add(alias[:1].upper() + alias[1:])
    for a in list(out):
        if "'" in a:
            out.add(a.replace("'", "’"))
        if "isation" in a:
            out.add(a.replace("isation", "ization"))
        if "ization" in a:
            out.add(a.replace("ization", "isation"))
    if fold:
        out |= {_ascii_fold(a) for a in out}
    return out


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    actor: int
    kind: int


class ActorResolver:
    """Find catalogue actors, and cited people outside it, in article text."""

    def __init__(self, catalogue: ActorCatalogue) -> None:
        self.catalogue = catalogue
        self._actors: tuple[Actor, ...] = catalogue.actors
        index = {a.id: i for i, a in enumerate(self._actors)}
        self._country_of: list[int] = [
            index.get(f"state:{a.country}", -1) if a.country else -1 for a in self._actors
        ]
        self._has_weak = [bool(a.weak_aliases) for a in self._actors]
        table: dict[str, tuple[int, int]] = {}

        def add(alias: str, actor: int, kind: int, fold: bool) -> None:
            for variant in _variants(alias, fold):
                if len(variant) < 2:
                    continue
                old = table.get(variant)
                # A stronger kind wins; the first actor keeps an alias two actors share.
                if (
                    old is None
                    or (old[0] == actor and kind < old[1])
                    or (old[1] == _BLOCK and kind != _BLOCK)
                ):
                    table[variant] = (actor, kind)

        for i, a in enumerate(self._actors):
            fold = a.type != "state"
            for alias in (a.name, *a.aliases):
                add(alias, i, _NAME_LIKE if alias in a.name_like else _NAME, fold)
            for alias in a.seats:
                add(alias, i, _SEAT, fold)
            for alias in a.demonyms:
                add(alias, i, _DEMONYM, False)
            for alias in a.capitals:
                add(alias, i, _CAPITAL, True)
            for alias in a.weak_aliases:
                add(alias, i, _WEAK, fold)
        for alias in catalogue.blockers:
            if alias not in table:
                table[alias] = (-1, _BLOCK)
        automaton = ahocorasick.Automaton()
        for alias, (actor, kind) in table.items():
            automaton.add_word(alias, (len(alias), actor, kind))
        automaton.make_automaton()
        self._automaton = automaton
        self._alias_count = len(table)
        self._people = CitedPeopleFinder()

    @property
    def alias_count(self) -> int:
        return self._alias_count

    # ------------------------------------------------------------------ public

    def resolve(self, text: str, title: str | None = None) -> list[ActorTag]:
        """Actors in ``text`` (and ``title``), each with every mention, by first mention.

        Offsets of a mention refer to ``text`` (``field="text"``) or to ``title``
        (``field="title"``); ``text[start:end] == mention.text``.
        """
        fields: list[tuple[Field, str]] = [("text", text)]
        if title:
            fields.append(("title", title))
        hits = {name: self._candidates(value) for name, value in fields}
        accepted: dict[Field, list[_Hit]] = {}
        present: set[int] = set()
        pending: list[tuple[Field, str, list[_Hit], int]] = []
        for name, value in fields:
            kept: list[_Hit] = []
            candidates = hits[name]
            for j, hit in enumerate(candidates):
                kind = hit.kind
                if kind == _BLOCK:
                    continue
                if kind == _WEAK:
                    continue
                if kind == _CAPITAL and not self._capital_ok(value, candidates, j):
                    continue
                if kind == _NAME_LIKE and _FOLLOWED_BY_NAME.match(value, hit.end):
                    continue
                if not self._caps_ok(value, hit):
                    continue
                kept.append(hit)
                present.add(hit.actor)
            accepted[name] = kept
            pending.extend((name, value, candidates, j) for j in range(len(candidates)))
        # Weak aliases, now that the strong mentions of the whole article are known.
        for name, value, candidates, j in pending:
            hit = candidates[j]
            if hit.kind == _WEAK and self._weak_ok(value, hit, present):
                accepted[name].append(hit)
        return self._build(fields, hits, accepted)

    # ------------------------------------------------------------------ internals

    def _candidates(self, text: str) -> list[_Hit]:
        raw: list[tuple[int, int, int, int]] = []
        n = len(text)
        for end_index, (length, actor, kind) in self._automaton.iter(text):
            start = end_index - length + 1
            end = end_index + 1
            if start > 0 and _is_word_char(text[start - 1]):
                continue
            if (
                kind != _BLOCK
                and end < n
                and _is_word_char(text[end])
                and _is_word_char(text[end - 1])
            ):
                continue
            raw.append((start, -end, actor, kind))
        raw.sort()
        out: list[_Hit] = []
        last_end = -1
        for start, neg_end, actor, kind in raw:
            if start >= last_end:
                out.append(_Hit(start, -neg_end, actor, kind))
                last_end = -neg_end
        return out

    def _caps_ok(self, text: str, hit: _Hit) -> bool:
        """Reject a short all-capital alias inside an all-capital run ("LET US KNOW")."""
        if hit.end - hit.start > 3 or not text[hit.start : hit.end].isupper():
            return True
        before = _PREV_WORD.search(text, max(0, hit.start - 20), hit.start)
        if before is None or not before.group(1).isupper() or len(before.group(1)) < 2:
            return True
        after = re.match(r"\s+(\w+)", text[hit.end : hit.end + 20])
        return not (after is None or after.group(1).isupper())

    def _capital_ok(
        self, text: str, candidates: Sequence[_Hit], j: int, coordination: bool = True
    ) -> bool:
        hit = candidates[j]
        start, end = hit.start, hit.end
        after = text[end : end + 60]
        if after.startswith(("-based", "–based")) or _FOLLOWED_BY_NAME.match(after):
            return False
        prev = _PREV_WORD.search(text, max(0, start - 30), start)
        prev_word = prev.group(1) if prev is not None else ""
        if prev_word.lower() in _PLACE_WORDS:
            return False
        if (
            prev is not None
            and prev_word[:1].isupper()
            and prev_word not in _SENTENCE_OPENERS
            and text[prev.end(1) : start] == " "
        ):
            return False  # inside a longer name: "King's College London"
        coord = _COORD_BEFORE.search(text, max(0, start - 60), start)
        if coord is not None and coord.group(1).lower() in _PLACE_WORDS:
            return False
        possessive = _POSSESSIVE.match(after)
        if possessive is not None:
            following = possessive.group(1) or ""
            return not (following[:1].isupper() or following in _PLACE_NOUNS)
        nxt = _NEXT_WORDS.match(after)
        if nxt is not None:
            first, second = nxt.group(1), nxt.group(2)
            if first in _PLACE_NOUNS:
                return False
            if first in _GOV_VERBS or (first in _ADVERBS and second in _GOV_VERBS):
                return True
            if first.endswith("ly") and second in _GOV_VERBS:
                return True
            if first.endswith("ed") and first not in _NOT_GOV_PARTICIPLES and second != "by":
                return True
        if prev_word in _RELATION_WORDS:
            return True
        if not coordination:
            return False
        for k in (j - 1, j + 1):
            if 0 <= k < len(candidates):
                other = candidates[k]
                if other.kind not in (_CAPITAL, _NAME, _SEAT):
                    continue
                if self._actors[other.actor].type not in ("state", "bloc", "organisation"):
                    continue
                gap = text[other.end : start] if k < j else text[end : other.start]
                if not _GAP_COORD.match(gap):
                    continue
                if other.kind != _CAPITAL or self._capital_ok(text, candidates, k, False):
                    return True
        return False

    def _weak_ok(self, text: str, hit: _Hit, present: set[int]) -> bool:
        actor = self._actors[hit.actor]
        ctx = actor.weak_context
        if _DATE_AFTER.match(text, hit.end):
            return False  # "May 16", "May 2009"
        if text[hit.start : hit.end] in _MONTHS:
            prev = _PREV_WORD.search(text, max(0, hit.start - 30), hit.start)
            if prev is not None and prev.group(1).lower() in _DATE_WORDS:
                return False  # "in May", "since May", "early May"
        if "name" in ctx and hit.actor in present:
            return True
        if "title" in ctx and _TITLE_BEFORE.search(text, max(0, hit.start - 40), hit.start):
            return True
        country = self._country_of[hit.actor]
        return "country" in ctx and country >= 0 and country in present

    def _build(
        self,
        fields: Sequence[tuple[Field, str]],
        hits: Mapping[Field, list[_Hit]],
        accepted: Mapping[Field, list[_Hit]],
    ) -> list[ActorTag]:
        mentions: dict[str, list[Evidence]] = {}
        meta: dict[str, tuple[str, ActorType, str | None, bool]] = {}
        for name, value in fields:
            for hit in accepted.get(name, []):
                actor = self._actors[hit.actor]
                meta.setdefault(actor.id, (actor.name, actor.type, actor.wikidata, True))
                mentions.setdefault(actor.id, []).append(
                    Evidence(
                        start=hit.start, end=hit.end, text=value[hit.start : hit.end], field=name
                    )
                )
        # Spans a cited person may not overlap: every catalogue match, accepted or not (a capital
        # read as a place still is no person's name), except rejected weak aliases and blockers.
        claimed: dict[str, list[tuple[int, int]]] = {}
        for name, _ in fields:
            spans = [(h.start, h.end) for h in hits[name] if h.kind not in (_WEAK, _BLOCK)]
            spans += [(h.start, h.end) for h in accepted.get(name, []) if h.kind == _WEAK]
            claimed[name] = sorted(spans)
        people = self._people.find(fields, claimed)
        for person in people:
            meta.setdefault(person.actor_id, (person.name, "person", None, False))
            bucket = mentions.setdefault(person.actor_id, [])
            for fld, start, end in person.spans:
                value = _text_of(fields, fld)
                bucket.append(Evidence(start=start, end=end, text=value[start:end], field=fld))

        def order(item: tuple[str, list[Evidence]]) -> tuple[int, int]:
            first = min(item[1], key=_evidence_key)
            return _evidence_key(first)

        tags: list[ActorTag] = []
        for actor_id, evidence in sorted(mentions.items(), key=order):
            label, kind, qid, in_catalogue = meta[actor_id]
            evidence.sort(key=_evidence_key)
            tags.append(
                ActorTag(
                    actor_id=actor_id,
                    name=label,
                    type=kind,
                    wikidata=qid,
                    in_catalogue=in_catalogue,
                    mentions=evidence,
                )
            )
        return tags


def _evidence_key(ev: Evidence) -> tuple[int, int]:
    # Mentions in the title come first, then mentions in the text, by offset.
    return (0 if ev.field == "title" else 1, ev.start)


def _text_of(fields: Sequence[tuple[Field, str]], name: Field) -> str:
    for fld, value in fields:
        if fld == name:
            return value
    raise KeyError(name)
