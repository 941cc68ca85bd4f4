"""The versioned theme catalogue (``deploy/config/themes.yaml``) and its loader.

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
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mediawatch.tagger.query import QuerySyntaxError, parse_query

__all__ = [
    "ThemeCatalogue",
    "ThemeCatalogueError",
    "ThemeDefinition",
    "load_theme_catalogue",
    "validate_catalogue",
]

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


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
