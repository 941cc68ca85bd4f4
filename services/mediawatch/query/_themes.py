"""The versioned theme catalogue, its loader and the matcher of all its themes at once.

The built-in catalogue ships as package data (``mediawatch/query/data/themes.yaml``,
``builtin_themes_file()``), so the tagger and the alerter find it in any install.

```yaml
version: "2025-01"
themes:
  - id: indivisible-security
    label: Indivisible security
    description: ...
    query: '"indivisible security" OR ...'
    queries:            # optional per-language variants, used instead of ``query``
      ru: '"неделимость безопасности" OR ...'
```

Every problem is reported as a ``ThemeCatalogueError`` naming the file, the theme id and the
field, and for a query that does not parse, the position in the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mediawatch.query import (
    CompiledQuery,
    Document,
    QueryIndex,
    QuerySyntaxError,
    Scan,
    parse_query,
    stem_query,
)
from mediawatch.schemas import ThemeTag

__all__ = [
    "ThemeCatalogue",
    "ThemeCatalogueError",
    "ThemeDefinition",
    "ThemeMatcher",
    "builtin_themes_file",
    "load_theme_catalogue",
    "validate_catalogue",
]

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def builtin_themes_file() -> Path:
    """The theme catalogue that ships with the package: the default of every service."""
    return Path(str(resources.files("mediawatch.query") / "data" / "themes.yaml"))


class ThemeCatalogueError(ValueError):
    """A catalogue that cannot be used; names ``path``, ``theme_id`` and ``field``."""

    def __init__(
        self,
        problem: str,
        path: str | None = None,
        theme_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.theme_id = theme_id
        self.field = field
        where = [path or "<theme catalogue>"]
        if theme_id is not None:
            where.append(f"theme {theme_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")


class ThemeDefinition(BaseModel):
    """One theme: a default query and/or per-language query variants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="lowercase slug, unique in the catalogue")
    label: str = Field(min_length=1, description="human-readable name")
    description: str = ""
    query: str | None = Field(default=None, description="query used when no variant applies")
    queries: dict[str, str] = Field(
        default_factory=dict, description="ISO 639-1 language -> query for articles in it"
    )

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG.match(v):
            raise ValueError(f"{v!r} is not a lowercase slug (a-z, 0-9, '-' or '_')")
        return v

    @field_validator("queries")
    @classmethod
    def _languages(cls, v: dict[str, str]) -> dict[str, str]:
        for lang in v:
            if not LANGUAGE.match(lang):
                raise ValueError(f"{lang!r} is not a lowercase ISO 639 language code")
        return v

    @model_validator(mode="after")
    def _some_query(self) -> ThemeDefinition:
        if not self.query and not self.queries:
            raise ValueError("a theme needs a query or per-language queries")
        return self


class ThemeCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, description="catalogue version, reported on each tag")
    themes: list[ThemeDefinition]

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def validate_catalogue(catalogue: ThemeCatalogue, path: str | None = None) -> None:
    """Check what the models cannot: unique ids and queries that parse."""
    seen: set[str] = set()
    for i, theme in enumerate(catalogue.themes):
        if theme.id in seen:
            raise ThemeCatalogueError(f"duplicate theme id (themes[{i}])", path, theme.id, "id")
        seen.add(theme.id)
        fields = [("query", theme.query)] + [
            (f"queries.{lang}", q) for lang, q in theme.queries.items()
        ]
        for name, q in fields:
            if q is None:
                continue
            try:
                parse_query(q)
            except QuerySyntaxError as e:
                raise ThemeCatalogueError(f"invalid query: {e}", path, theme.id, name) from e


def load_theme_catalogue(path: str | Path) -> ThemeCatalogue:
    """Load and check the YAML catalogue at ``path``."""
    where = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ThemeCatalogueError(f"cannot read: {e}", where) from e
    except yaml.YAMLError as e:
        raise ThemeCatalogueError(f"not valid YAML: {e}", where) from e
    if not isinstance(raw, dict):
        raise ThemeCatalogueError("expected a mapping with 'version' and 'themes'", where)
    try:
        catalogue = ThemeCatalogue.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        theme_id: str | None = None
        field = ".".join(str(p) for p in loc) or None
        if len(loc) >= 2 and loc[0] == "themes" and isinstance(loc[1], int):
            themes = raw.get("themes")
            item = themes[loc[1]] if isinstance(themes, list) and loc[1] < len(themes) else None
            if isinstance(item, dict) and item.get("id") is not None:
                theme_id = str(item["id"])
            else:
                theme_id = f"themes[{loc[1]}]"
            field = ".".join(str(p) for p in loc[2:]) or None
        more = f" (and {e.error_count() - 1} more problems)" if e.error_count() > 1 else ""
        raise ThemeCatalogueError(f"{err['msg']}{more}", where, theme_id, field) from e
    validate_catalogue(catalogue, where)
    return catalogue


@dataclass(frozen=True, slots=True)
class _Theme:
    id: str
    label: str
    default: CompiledQuery | None
    variants: dict[str, CompiledQuery]

    def select(self, language: str | None) -> CompiledQuery | None:
        if language is not None:
            q = self.variants.get(language)
            if q is not None:
                return q
        return self.default


class ThemeMatcher:
    """Matches every theme of a catalogue against documents with one automaton pass."""

    def __init__(self, catalogue: ThemeCatalogue, index: QueryIndex | None = None) -> None:
        validate_catalogue(catalogue)
        self.catalogue = catalogue
        self.version = catalogue.version
        self.index = index if index is not None else QueryIndex()
        self._themes: list[_Theme] = []
        # query id -> theme positions (two themes may share a query text, hence one query)
        by_query: dict[int, list[int]] = {}
        for pos, theme in enumerate(catalogue.themes):
            default = self.index.compile(theme.query) if theme.query else None
            variants = {
                lang.casefold(): self.index.compile(stem_query(parse_query(q), lang.casefold()))
                for lang, q in theme.queries.items()
            }
            self._themes.append(_Theme(theme.id, theme.label, default, variants))
            for cq in [default, *variants.values()]:
                if cq is not None:
                    by_query.setdefault(cq.qid, []).append(pos)
        # key id -> positions of the themes with a query using that key
        self._by_key: dict[int, tuple[int, ...]] = {}
        for kid, qids in enumerate(self.index.key_queries):
            positions = sorted({p for q in qids for p in by_query.get(q, ())})
            if positions:
                self._by_key[kid] = tuple(positions)
        self._always = sorted({p for q in self.index.always for p in by_query.get(q, ())})

    @classmethod
    def from_file(cls, path: str | Path) -> ThemeMatcher:
        return cls(load_theme_catalogue(path))

    @property
    def theme_ids(self) -> list[str]:
        return [t.id for t in self._themes]

    def compile_query(self, query: str) -> CompiledQuery:
        """Compile an ad-hoc query into this matcher's automaton (shared scan per document)."""
        return self.index.compile(query)

    def _candidates(self, scan: Scan) -> list[int]:
        found: set[int] = set(self._always)
        by_key = self._by_key
        for kid in scan.keys:
            positions = by_key.get(kid)
            if positions is not None:
                found.update(positions)
        return sorted(found)

    def match(self, doc: Document) -> list[ThemeTag]:
        """The themes ``doc`` matches, in catalogue order, each with its evidence."""
        scan = doc.hits(self.index)
        tags: list[ThemeTag] = []
        for pos in self._candidates(scan):
            theme = self._themes[pos]
            cq = theme.select(doc.language_key)
            if cq is None or not cq.candidate(scan):
                continue
            result = cq.evaluate_scan(doc, scan)
            if result.matched:
                tags.append(
                    ThemeTag(theme_id=theme.id, label=theme.label, evidence=result.evidence)
                )
        return tags
