"""Watch rules: the versioned YAML file, its validation, and the typed rules.

A rules file looks like this (``docs/rules.md`` has the full reference)::

    version: 1
    rules:
      - id: nato-critical-spike
        description: Critical coverage of NATO surges
        severity: warning
        condition:
          themes: [nato-expansion]
          stance: "stance(org:nato) <= -0.3"
        mode: {type: spike, window: 1h, baseline: 24h, min_count: 5, min_ratio: 3}
        cooldown: 2h
        notify:
          - {name: ops, type: webhook, url: "https://hooks.example.org/mw", secret_env: MW_HOOK}

Every error names the file, the rule id and the field: ``rules.yaml: rule 'x': mode.window:
...``. Secrets are never written in the file: ``secret_env`` / ``password_env`` name the
environment variable that holds them, read once at load time into a ``SecretStr``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mediawatch.schemas import AlertMode, Genre, Severity

SUPPORTED_VERSIONS = frozenset({1})

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


class RulesError(ValueError):
    """The rules file is not valid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_duration(value: object) -> timedelta:
    """``90`` (seconds), ``"45s"``, ``"10m"``, ``"1h30m"``, ``"2d"``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '10m', '1h30m', '2d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"{value!r} is not a duration: use seconds or text like '10m', '1h30m', '2d'")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_STANCE_TEXT = re.compile(
    r"^\s*stance\(\s*(?:(actor|theme)\s*:\s*)?([^()\s]+)\s*\)\s*(<=|>=|<|>)\s*([-+]?\d*\.?\d+)\s*$"
)


class StanceCondition(_Model):
    """The article's stance towards ``target`` lies within [min, max]."""

    target: str = Field(min_length=1, description="actor id (org:nato) or theme id")
    kind: Literal["actor", "theme"] | None = Field(
        default=None, description="actor or theme; any when omitted"
    )
    min: float | None = Field(default=None, ge=-1.0, le=1.0)
    max: float | None = Field(default=None, ge=-1.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        match = _STANCE_TEXT.match(value)
        if match is None:
            raise ValueError(
                f"{value!r} is not a stance condition: write 'stance(org:nato) <= -0.3' or "
                "{target: org:nato, max: -0.3}"
            )
        kind, target, operator, number = match.groups()
        bound = "max" if operator.startswith("<") else "min"
        return {"target": target, "kind": kind, bound: float(number)}

    @model_validator(mode="after")
    def _has_a_bound(self) -> StanceCondition:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def holds(self, score: float) -> bool:
        return (self.min is None or score >= self.min) and (self.max is None or score <= self.max)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str | dict) else value


class SourceCondition(_Model):
    """Source metadata; each list is any-of, the lists together all-of."""

    country: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes")
    outlet_type: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list, description="ISO 639-1 codes")
    source_id: list[str] = Field(default_factory=list)

    _lists = field_validator("country", "outlet_type", "language", "source_id", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )


class Condition(_Model):
    """Every part given must hold (AND); lists of themes and actors are any-of."""

    themes: list[str] = Field(default_factory=list, description="any of these theme ids")
    all_themes: list[str] = Field(default_factory=list, description="all of these theme ids")
    query: str | None = Field(default=None, description="a query in the tagger's language")
    actors: list[str] = Field(default_factory=list, description="any of these actor ids")
    stance: list[StanceCondition] = Field(default_factory=list, description="all must hold")
    genres: list[Genre] = Field(
        default_factory=list,
        description="any of these genres (news, opinion, analysis); an article whose genre "
        "nobody labelled matches none of them",
    )
    sources: SourceCondition = Field(default_factory=SourceCondition)
    include_duplicates: bool = Field(
        default=False, description="count near-duplicates (reprints) too"
    )

    _lists = field_validator("themes", "all_themes", "actors", "stance", "genres", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from mediawatch.query import QuerySyntaxError, compile_query

        try:
            compile_query(value)
        except QuerySyntaxError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not (self.themes or self.all_themes or self.query or self.actors or self.stance):
            raise ValueError("a condition needs themes, all_themes, query, actors or stance")
        return self


class EachMatchMode(_Model):
    type: Literal["each_match"] = "each_match"


class ThresholdMode(_Model):
    """At least ``count`` matching stories within a sliding ``window``."""

    type: Literal["threshold"]
    count: int = Field(ge=1)
    window: Duration


class SpikeMode(_Model):
    """Matches in the last ``window`` against the ``baseline`` before it."""

    type: Literal["spike"]
    window: Duration
    baseline: Duration
    min_count: int = Field(default=3, ge=1, description="at least this many in the window")
    min_ratio: float | None = Field(default=None, gt=0, description="window rate / baseline")
    min_zscore: float | None = Field(default=None, description="z-score of the window count")

    @model_validator(mode="after")
    def _check(self) -> SpikeMode:
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if self.baseline < self.window:
            raise ValueError("baseline must be at least as long as window")
        if self.min_ratio is None and self.min_zscore is None:
            raise ValueError("give min_ratio, min_zscore or both")
        return self


class DigestMode(_Model):
    """A summary at every ``cron`` slot (in ``timezone``) of what matched since the last one."""

    type: Literal["digest"]
    cron: str
    timezone: str = "UTC"
    send_empty: bool = Field(default=False, description="send a digest with no matches too")
    max_articles: int = Field(default=50, ge=1, description="articles listed in the alert")

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_valid(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


def _mode_from_text(value: object) -> object:
    if isinstance(value, str):
        return {"type": value}
    return value


Mode = Annotated[
    EachMatchMode | ThresholdMode | SpikeMode | DigestMode,
    Field(discriminator="type"),
    BeforeValidator(_mode_from_text),
]


def _secret_from_env(data: dict[str, Any], env_field: str, secret_field: str) -> dict[str, Any]:
    name = data.get(env_field)
    if name is None:
        return data
    if not isinstance(name, str) or name not in os.environ:
        raise ValueError(f"{env_field}: environment variable {name!r} is not set")
    return data | {secret_field: os.environ[name]}


class WebhookDestination(_Model):
    """Generic JSON webhook; with a secret, ``X-Mediawatch-Signature: sha256=<hmac>``."""

    type: Literal["webhook"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = None
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _secret(cls, data: Any) -> Any:
        return _secret_from_env(data, "secret_env", "secret") if isinstance(data, dict) else data


class SlackDestination(_Model):
    """Slack-compatible incoming webhook (Mattermost, Rocket.Chat accept it too)."""

    type: Literal["slack"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str | None = Field(default=None, pattern=r"^https?://")
    url_env: str | None = Field(default=None, description="variable holding the secret URL")
    secret_url: SecretStr | None = None
    channel: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _secret(cls, data: Any) -> Any:
        return _secret_from_env(data, "url_env", "secret_url") if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _has_url(self) -> SlackDestination:
        if self.url is None and self.secret_url is None:
            raise ValueError("give url or url_env")
        return self

    def target(self) -> str:
        if self.secret_url is not None:
            return self.secret_url.get_secret_value()
        return self.url or ""


class EmailDestination(_Model):
    """E-mail over the SMTP server of the settings."""

    type: Literal["email"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    to: list[str] = Field(min_length=1)

    _lists = field_validator("to", mode="before")(classmethod(lambda cls, v: _as_list(v)))

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class AlertmanagerDestination(_Model):
    """Prometheus Alertmanager, API v2 (``POST <url>/api/v2/alerts``)."""

    type: Literal["alertmanager"]
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(pattern=r"^https?://", description="base URL, e.g. http://am:9093")
    resolve_after: Duration = Field(default=timedelta(hours=1))


Destination = Annotated[
    WebhookDestination | SlackDestination | EmailDestination | AlertmanagerDestination,
    Field(discriminator="type"),
]


class Rule(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)
    description: str = ""
    severity: Severity = Severity.WARNING
    enabled: bool = True
    condition: Condition
    mode: Mode = Field(default_factory=EachMatchMode)
    cooldown: Duration = Field(
        default=timedelta(0), description="no alert of this rule sooner than this after one"
    )
    notify: list[Destination] = Field(default_factory=list)

    @field_validator("notify")
    @classmethod
    def _unique_destinations(cls, value: list[Any]) -> list[Any]:
        names = [d.name for d in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"destination names must be unique: {', '.join(duplicates)}")
        return value

    @property
    def alert_mode(self) -> AlertMode:
        return AlertMode(self.mode.type)

    def destination(self, name: str) -> Any:
        for destination in self.notify:
            if destination.name == name:
                return destination
        raise KeyError(name)

    def horizon(self) -> timedelta:
        """How far back matches must be remembered for this rule's mode."""
        if isinstance(self.mode, ThresholdMode):
            return self.mode.window
        if isinstance(self.mode, SpikeMode):
            return self.mode.window + self.mode.baseline
        return timedelta(0)


class RuleSet(_Model):
    version: int
    rules: list[Rule]
    path: str = ""
    content_hash: str = Field(
        default="",
        description="first 16 hex digits of the SHA-256 of the file's bytes (of the parsed "
        "data as sorted JSON when there was no file); every alert records it",
    )

    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    def enabled(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.enabled]


_TAGS = frozenset(
    {"each_match", "threshold", "spike", "digest", "webhook", "slack", "email", "alertmanager"}
)


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``('notify', 0, 'webhook', 'url')`` -> ``notify[0].url``; union tags are left out."""
    text = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "function-" in part or (
            part in _TAGS and (previous == "mode" or isinstance(previous, int))
        ):
            continue
        else:
            text += f".{part}" if text else part
        previous = part
    return text


def _describe(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def content_hash(content: bytes) -> str:
    """The short version of a rules file that alerts carry (16 hex digits of its SHA-256)."""
    return hashlib.sha256(content).hexdigest()[:16]


def parse_rules(data: object, source: str = "<rules>", *, digest: str | None = None) -> RuleSet:
    """Validate already-parsed YAML; raise :class:`RulesError` naming file, rule and field.
    ``digest`` is the file's :func:`content_hash`; without one the data is hashed."""
    if not isinstance(data, dict):
        raise RulesError([f"{source}: the file must be a mapping with 'version' and 'rules'"])
    problems: list[str] = []
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS:
        problems.append(
            f"{source}: version: {version!r} is not supported (supported: "
            f"{', '.join(str(v) for v in sorted(SUPPORTED_VERSIONS))})"
        )
    unknown = sorted(set(data) - {"version", "rules"})
    if unknown:
        problems.append(f"{source}: unknown top-level keys: {', '.join(map(str, unknown))}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        problems.append(f"{source}: rules: must be a list of rules")
        raise RulesError(problems)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(raw_rules):
        rule_name = (
            f"rule {raw['id']!r}"
            if isinstance(raw, dict) and isinstance(raw.get("id"), str)
            else f"rule #{position + 1}"
        )
        if not isinstance(raw, dict):
            problems.append(f"{source}: {rule_name}: must be a mapping")
            continue
        try:
            rule = Rule.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                field = _field_path(tuple(error["loc"])) or "rule"
                problems.append(f"{source}: {rule_name}: {field}: {_describe(error)}")
            continue
        except ValueError as exc:  # a secret's environment variable is missing
            problems.append(f"{source}: {rule_name}: notify: {exc}")
            continue
        if rule.id in seen:
            problems.append(
                f"{source}: {rule_name}: id: duplicate id (also rule #{seen[rule.id] + 1})"
            )
            continue
        seen[rule.id] = position
        rules.append(rule)
    if problems:
        raise RulesError(problems)
    if digest is None:
        digest = content_hash(json.dumps(data, sort_keys=True, default=str).encode())
    return RuleSet(
        version=int(version),  # type: ignore[arg-type]
        rules=rules,
        path=source,
        content_hash=digest,
    )


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_rules_text(content.decode("utf-8"), str(path))


def parse_rules_text(text: str, source: str) -> RuleSet:
    """Validate a rules file's text; a YAML error names ``source``, line and column."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise RulesError([f"{source}{where}: not valid YAML: {exc}"]) from None
    return parse_rules(data, source, digest=content_hash(text.encode("utf-8")))


def check_theme_ids(ruleset: RuleSet, known: set[str], path: str, catalogue: str) -> None:
    """Reject rules that name a theme the catalogue does not have: such a rule validates
    and then silently never matches."""
    problems = []
    for rule in ruleset.rules:
        for field_name in ("themes", "all_themes"):
            for theme_id in getattr(rule.condition, field_name):
                if theme_id not in known:
                    problems.append(
                        f"{path}: rule '{rule.id}': condition.{field_name}: unknown theme id "
                        f"'{theme_id}' (not in {catalogue})"
                    )
    if problems:
        raise RulesError(problems)
