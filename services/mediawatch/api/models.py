"""What the API takes and gives: pydantic models that validate each request's parameters and
body and describe each response, and from which the OpenAPI document is built."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mediawatch.query import MAX_QUERY_LENGTH
from mediawatch.schemas import Alert, ArticleTagged, Evidence, Genre, Severity

STANCE_PATTERN = r"^(supportive|neutral|critical):\S+$"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArticleFilterParams(_Params):
    """Filters shared by search, export and trends; a list parameter may be repeated."""

    since: datetime | None = Field(default=None, description="fetched at or after (ISO 8601)")
    until: datetime | None = Field(default=None, description="fetched before (ISO 8601)")
    source: list[str] = Field(default_factory=list, description="source ids")
    country: list[str] = Field(default_factory=list, description="outlet countries, alpha-2")
    outlet_type: list[str] = Field(default_factory=list, description="newspaper, agency, ...")
    language: list[str] = Field(default_factory=list, description="ISO 639-1 codes")
    genre: list[str] = Field(default_factory=list, description="news, opinion, analysis, ...")
    theme: list[str] = Field(default_factory=list, description="tagged with any of these themes")
    actor: list[str] = Field(default_factory=list, description="tagged with any of these actors")
    stance: list[str] = Field(
        default_factory=list,
        description="LABEL:TARGET, all must hold, e.g. critical:state:ru",
    )
    stories_only: bool = Field(default=False, description="leave out reprints")

    @field_validator("stance")
    @classmethod
    def _stances(cls, values: list[str]) -> list[str]:
        import re

        for value in values:
            if not re.fullmatch(STANCE_PATTERN, value):
                raise ValueError(f"{value!r} is not LABEL:TARGET (supportive|neutral|critical)")
        return values


class SearchParams(ArticleFilterParams):
    q: str = Field(default="", max_length=MAX_QUERY_LENGTH, description="query language")
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=500)


class ExportParams(ArticleFilterParams):
    q: str = Field(default="", max_length=MAX_QUERY_LENGTH, description="query language")
    format: Literal["csv", "jsonl"] = "jsonl"


class AlertFilterParams(_Params):
    """What the alert list and the alert stream filter on: an alert is kept when one of its
    articles carries the theme, the actor, the country and the genre asked for."""

    rule: str | None = None
    severity: Severity | None = None
    theme: str | None = Field(default=None, description="an alert article carries this theme")
    actor: str | None = Field(default=None, description="an alert article carries this actor")
    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="an alert article's outlet country"
    )
    genre: Genre | None = Field(default=None, description="an alert article's genre")

    def admits(self, alert: Alert) -> bool:
        if self.rule is not None and alert.rule_id != self.rule:
            return False
        if self.severity is not None and alert.severity != self.severity:
            return False
        if not self.filters_articles():
            return True
        country = self.country.upper() if self.country else None
        return any(
            (self.theme is None or self.theme in a.themes)
            and (self.actor is None or self.actor in a.actors)
            and (country is None or (a.source.country or "").upper() == country)
            and (self.genre is None or a.genre == self.genre)
            for a in alert.articles
        )

    def filters_articles(self) -> bool:
        return any(v is not None for v in (self.theme, self.actor, self.country, self.genre))


class AlertParams(AlertFilterParams):
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class AlertStreamParams(AlertFilterParams):
    start: Literal["now", "beginning"] = Field(
        default="now",
        description="where a client without Last-Event-ID starts: new alerts only, or every "
        "alert the topic still holds",
    )


class TrendParams(ArticleFilterParams):
    by: Literal["day"] = "day"
    group: Literal["country", "source", "language"] | None = None


class ActorParams(ArticleFilterParams):
    co_occurring: int = Field(default=20, ge=0, le=200)


class QueryCheckParams(_Params):
    q: str = Field(max_length=MAX_QUERY_LENGTH, description="query language")


class SourcesParams(_Params):
    days: int = Field(default=7, ge=1, le=90, description="period of the archive counts")


class MuteBody(_Params):
    minutes: int = Field(
        ge=0, le=30 * 24 * 60, description="how long the rule's alerts are muted; 0 unmutes"
    )


class RulesCheckBody(_Params):
    rules_yaml: str = Field(max_length=1_000_000, description="a rules file's text")


class BacktestBody(_Params):
    rules_yaml: str | None = Field(
        default=None, max_length=1_000_000, description="rules file text; default the API's"
    )
    since: datetime | None = None
    until: datetime | None = Field(default=None, description="also closes open windows")


# -- responses -----------------------------------------------------------------------------


class ErrorBody(BaseModel):
    error: str
    parameter: str | None = None
    position: int | None = Field(default=None, description="of a query syntax error")


class SearchHitBody(BaseModel):
    article: ArticleTagged
    evidence: list[Evidence]


class SearchBody(BaseModel):
    articles: list[SearchHitBody]
    next_cursor: str | None
    candidates_read: int


class AckBody(BaseModel):
    alert_id: str
    by: str = Field(description="the id of the token that acknowledged it")
    at: datetime


class RuleMuteBody(BaseModel):
    rule_id: str
    by: str
    at: datetime
    until: datetime


class AlertsBody(BaseModel):
    alerts: list[Alert]
    acknowledged: dict[str, AckBody] = Field(
        default_factory=dict, description="acknowledgements of the listed alerts, by alert id"
    )
    muted_rules: dict[str, RuleMuteBody] = Field(
        default_factory=dict, description="rules muted now, by rule id"
    )


class QueryCheckBody(BaseModel):
    valid: bool
    error: str | None = None
    position: int | None = Field(default=None, description="0-based, of the first problem")
    expected: str | None = None


class SourceHealthBody(BaseModel):
    source_id: str
    healthy: bool | None = Field(description="the last pass worked; null: not tried yet")
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    articles: int = Field(description="articles archived in the period")
    last_fetched: datetime | None = Field(description="newest archived article")
    per_day: dict[str, int]


class SourcesBody(BaseModel):
    since: datetime
    fetchers: list[str] = Field(description="fetchers asked for health, and what they said")
    sources: list[SourceHealthBody]


class TrendPointBody(BaseModel):
    day: str
    group: str | None
    stories: int


class TrendBody(BaseModel):
    theme: str | None
    group: str | None
    points: list[TrendPointBody]


class ActorDayBody(BaseModel):
    day: str
    articles: int
    supportive: int
    neutral: int
    critical: int
    mean_score: float | None


class CoOccurringBody(BaseModel):
    actor_id: str
    articles: int


class ActorBody(BaseModel):
    actor_id: str
    days: list[ActorDayBody]
    co_occurring: list[CoOccurringBody]


class RulesBody(BaseModel):
    path: str
    content_hash: str
    rules: list[dict[str, Any]]


class RulesCheckResult(BaseModel):
    valid: bool
    problems: list[str]
    content_hash: str | None
    rules: int


class BacktestResultBody(BaseModel):
    rules_version: str
    articles_read: int
    matches: int
    alerts: list[Alert]
    per_rule: dict[str, int]
    per_day: dict[str, dict[str, int]]
