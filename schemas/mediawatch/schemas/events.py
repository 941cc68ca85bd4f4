"""Payloads of every mediawatch topic.

These models are the only definition of what crosses Kafka; services import them, the JSON
Schema files in ``schemas/json/`` and ``schemas/asyncapi.yaml`` are generated from them.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from mediawatch.schemas._base import Event


def _bytes_from_base64(value: object) -> object:
    """JSON carries bytes as base64 text; Python callers pass the bytes themselves."""
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not valid base64: {exc}") from exc
    return value


#: Arbitrary bytes (possibly not UTF-8), written to JSON as base64.
RawBytes = Annotated[
    bytes,
    BeforeValidator(_bytes_from_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode("ascii"), return_type=str,
                    when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]  # fmt: skip


class _Part(BaseModel):
    """A nested value inside an event: immutable, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


#: What kind of piece an article is. Opinion: op-eds, columns, editorials, letters; analysis:
#: explainers, commentary by analysts, think-tank papers; news: reporting.
Genre = Literal["news", "opinion", "analysis"]


class SourceInfo(_Part):
    """Where an article came from and what the analyst knows about that outlet."""

    id: str = Field(min_length=1, description="source id from the sources file, or 'push'")
    type: Literal["feed", "page", "sitemap", "inbox", "push"] = Field(
        description="how the article entered mediawatch"
    )
    name: str | None = Field(default=None, description="human-readable outlet name")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code of the outlet")
    outlet_type: str | None = Field(
        default=None, description="newspaper, agency, broadcaster, blog, think-tank, government"
    )
    language: str | None = Field(default=None, description="declared language (ISO 639-1)")
    genre: Genre | None = Field(
        default=None,
        description="the genre of everything this source publishes, where one genre fits it "
        "(a columnists' blog, a think tank); an article's own genre wins (schema 1.1)",
    )


class ExtractionInfo(_Part):
    """How the article text was obtained, so a fallback is never silent."""

    method: Literal["trafilatura", "feed-entry", "plain-text", "markdown", "html", "json"]
    fallback_reason: str | None = Field(
        default=None, description="why the preferred method was not used, when it was not"
    )


class ArticleFetched(Event):
    """One article as fetched and extracted; keyed by ``article_id``."""

    event_name: ClassVar[str] = "ArticleFetched"
    #: 1.1 added ``genre`` and ``genre_from`` (and ``SourceInfo.genre``).
    current_version: ClassVar[str] = "1.1"

    schema_version: str = Field(
        default="1.1",
        pattern=r"^\d+\.\d+$",
        description="major.minor version of this event's schema; readers reject unknown majors",
    )

    article_id: str = Field(
        min_length=1, description="stable id derived from the canonical URL, else the content"
    )
    url: str | None = Field(default=None, description="URL the article was fetched from")
    canonical_url: str | None = Field(
        default=None, description="normalised URL: rel=canonical, tracking parameters removed"
    )
    source: SourceInfo
    title: str = Field(default="", description="article headline")
    byline: str | None = Field(default=None, description="author(s) as printed")
    published_at: datetime | None = Field(default=None, description="publication time (UTC)")
    fetched_at: datetime = Field(description="when mediawatch fetched it (UTC)")
    language: str | None = Field(default=None, description="detected language (ISO 639-1)")
    text: str = Field(description="main text, paragraphs separated by blank lines")
    content_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the normalised text, hex"
    )
    duplicate_of: str | None = Field(
        default=None, description="article_id of the first article this one nearly duplicates"
    )
    extraction: ExtractionInfo | None = None
    genre: Genre | None = Field(
        default=None,
        description="news, opinion or analysis, where the page, its URL, the feed entry, the "
        "inbox or push fields or the source say so; unset when nothing does (schema 1.1)",
    )
    genre_from: str | None = Field(
        default=None,
        description="what the genre was read from, e.g. 'schema.org OpinionNewsArticle', "
        "'URL path /opinion/', 'source'",
    )

    def event_id(self) -> str:
        return f"{self.article_id}:{self.content_hash[:16]}"


class Evidence(_Part):
    """A span of the article text that justifies a tag."""

    start: int = Field(ge=0, description="character offset of the span in the article text")
    end: int = Field(ge=0, description="character offset just past the span")
    text: str = Field(description="the matched text, equal to text[start:end]")
    sentence: str = Field(default="", description="the sentence the span sits in")
    sentence_start: int | None = Field(default=None, ge=0)
    sentence_end: int | None = Field(default=None, ge=0)
    field: Literal["title", "text"] = Field(
        default="text", description="which field the offsets refer to"
    )

    def shifted(self, offset: int) -> Evidence:
        """The same span with text offsets moved by ``offset``: evidence found in a tagged
        slice of the text (``ArticleTagged.text_start``) placed in the whole article."""
        if self.field != "text" or offset == 0:
            return self
        update: dict[str, int] = {"start": self.start + offset, "end": self.end + offset}
        if self.sentence_start is not None:
            update["sentence_start"] = self.sentence_start + offset
        if self.sentence_end is not None:
            update["sentence_end"] = self.sentence_end + offset
        return self.model_copy(update=update)


class ThemeTag(_Part):
    theme_id: str
    label: str
    evidence: list[Evidence] = Field(default_factory=list)


class ActorTag(_Part):
    actor_id: str = Field(
        description="canonical id, e.g. 'Q7747' style ids or 'person:ray-mcgovern'"
    )
    name: str = Field(description="canonical name")
    type: Literal["person", "state", "organisation", "bloc", "treaty"]
    wikidata: str | None = Field(default=None, pattern=r"^Q\d+$")
    in_catalogue: bool = Field(
        default=True,
        description="false for actors found in the text but not in the catalogue; their id is "
        "the type plus the normalised name (person:jane-okafor, org:baltic-security-institute)",
    )
    role: Literal["actor", "source"] = Field(
        default="actor",
        description="'source' for news outlets only cited as the source of information "
        "('told Reuters', 'according to CNN'), bylines and photo credits (schema 1.1)",
    )
    mentions: list[Evidence] = Field(default_factory=list)


class StanceLabel(StrEnum):
    SUPPORTIVE = "supportive"
    CRITICAL = "critical"
    NEUTRAL = "neutral"
    #: No stance model reads the article's language (schema 1.2); never a guess.
    UNKNOWN = "unknown"


class StanceTag(_Part):
    target_kind: Literal["actor", "theme"]
    target_id: str
    label: StanceLabel
    score: float = Field(ge=-1.0, le=1.0, description="-1 most critical .. +1 most supportive")
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str = Field(
        default="",
        description="why the label was given, in a few words: which sentences carried it and "
        "what kind of voice they are (schema 1.2)",
    )


class Tone(_Part):
    label: StanceLabel
    score: float = Field(ge=-1.0, le=1.0)


class ArticleRef(_Part):
    """Enough of the fetched article for downstream readers to need no other lookup."""

    article_id: str
    url: str | None = None
    title: str = ""
    source: SourceInfo
    published_at: datetime | None = None
    fetched_at: datetime
    language: str | None = None
    content_hash: str
    duplicate_of: str | None = None
    genre: Genre | None = Field(default=None, description="as in ArticleFetched (schema 1.2)")
    genre_from: str | None = None


class TaggerInfo(_Part):
    version: str
    catalogue_versions: dict[str, str] = Field(
        default_factory=dict, description="version of each catalogue file used (themes, actors)"
    )
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="time spent per stage: themes, actors, stance, total"
    )


class ArticleTagged(Event):
    """The tags of one article; keyed by ``article_id`` so a replay overwrites."""

    event_name: ClassVar[str] = "ArticleTagged"
    #: 1.1 added ``ActorTag.role`` (actor or cited source) and open-world actors; 1.2 the
    #: ``unknown`` stance label, ``StanceTag.reason`` and the article's genre.
    current_version: ClassVar[str] = "1.2"

    schema_version: str = Field(
        default="1.2",
        pattern=r"^\d+\.\d+$",
        description="major.minor version of this event's schema; readers reject unknown majors",
    )

    article: ArticleRef
    text_start: int = Field(default=0, ge=0, description="first character of text tagged")
    text_end: int = Field(ge=0, description="character just past the last one tagged")
    text_length: int = Field(ge=0, description="length of the full article text")
    truncated: bool = Field(default=False, description="true if only a prefix was tagged")
    language: str | None = Field(default=None, description="language the tagger detected/used")
    text: str = Field(
        default="",
        description="the text that was tagged (text[text_start:text_end] of the article); "
        "evidence offsets refer to the full article text",
    )
    themes: list[ThemeTag] = Field(default_factory=list)
    actors: list[ActorTag] = Field(default_factory=list)
    stances: list[StanceTag] = Field(default_factory=list)
    tone: Tone | None = None
    tagger: TaggerInfo
    tagged_at: datetime

    @property
    def article_id(self) -> str:
        return self.article.article_id

    def event_id(self) -> str:
        return f"{self.article.article_id}:{self.article.content_hash[:16]}:{self.tagger.version}"


class AlertMode(StrEnum):
    EACH_MATCH = "each_match"
    THRESHOLD = "threshold"
    SPIKE = "spike"
    DIGEST = "digest"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertArticle(_Part):
    """One article that contributed to an alert, with the evidence a reader needs."""

    article_id: str
    title: str = ""
    url: str | None = None
    source: SourceInfo
    published_at: datetime | None = None
    fetched_at: datetime
    genre: Genre | None = Field(default=None, description="as in ArticleFetched (schema 1.2)")
    themes: list[str] = Field(default_factory=list, description="matched theme ids")
    actors: list[str] = Field(default_factory=list, description="matched actor ids")
    stances: list[StanceTag] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class AlertWindow(_Part):
    start: datetime
    end: datetime


class Alert(Event):
    """An alert fired by a watch rule; keyed by ``rule_id``."""

    event_name: ClassVar[str] = "Alert"
    #: 1.1 added ``rules_version``; 1.2 the genre of each article.
    current_version: ClassVar[str] = "1.2"

    schema_version: str = Field(
        default="1.2",
        pattern=r"^\d+\.\d+$",
        description="major.minor version of this event's schema; readers reject unknown majors",
    )

    alert_id: str = Field(
        description="deterministic: rule + article, or rule + window, so repeats can be dropped"
    )
    rule_id: str
    rule_description: str = ""
    mode: AlertMode
    severity: Severity
    summary: str = Field(default="", description="one line a human reads first")
    articles: list[AlertArticle] = Field(default_factory=list)
    window: AlertWindow | None = None
    statistics: dict[str, float] = Field(
        default_factory=dict, description="count, baseline rate, ratio, z-score, as relevant"
    )
    groups: dict[str, int] = Field(
        default_factory=dict, description="digest: matches per theme and per actor"
    )
    fired_at: datetime
    rules_version: str | None = Field(
        default=None,
        description="the rules file that fired the alert: the first 16 hex digits of the "
        "SHA-256 of its bytes (schema 1.1)",
    )

    def event_id(self) -> str:
        return self.alert_id


class ArticleSeen(Event):
    """The fetcher's memory of one published article, kept in a compacted topic keyed by
    ``article_id`` so that every fetcher instance, and every restart, knows what was seen."""

    event_name: ClassVar[str] = "ArticleSeen"

    article_id: str
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    simhash: str = Field(pattern=r"^[0-9a-f]{16}$", description="64-bit SimHash of the text, hex")
    url: str | None = None
    source_id: str
    duplicate_of: str | None = None
    seen_at: datetime

    def event_id(self) -> str:
        return f"{self.article_id}:{self.content_hash[:16]}"


class DeadLetter(Event):
    """A record that could not be processed, kept with the reason; keyed like the original."""

    event_name: ClassVar[str] = "DeadLetter"

    origin_topic: str
    partition: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    key: RawBytes | None = Field(default=None, description="original key, base64")
    value: RawBytes | None = Field(default=None, description="original raw bytes, base64")
    error_type: str = Field(description="exception class or error kind")
    error_message: str = Field(description="what was wrong and where")
    service: str = Field(description="the service that gave up on the record")
    failed_at: datetime

    def event_id(self) -> str:
        return f"{self.origin_topic}:{self.partition}:{self.offset}:{self.service}"


class NotificationFailed(Event):
    """A notification of an alert that one destination did not take yet; the alerter's
    delivery reads these back from the retry topic and tries again after ``next_attempt_at``.
    Keyed by ``alert_id``; it carries the whole alert so nothing else must be looked up."""

    event_name: ClassVar[str] = "NotificationFailed"

    alert: Alert
    destination: str = Field(description="name of the destination in the rule")
    destination_kind: Literal["webhook", "slack", "email", "alertmanager"]
    attempts: int = Field(ge=1, description="delivery attempts made so far")
    last_error: str = Field(description="what went wrong on the last attempt (no secrets)")
    next_attempt_at: datetime = Field(description="not to be retried before this time (UTC)")
    failed_at: datetime

    def event_id(self) -> str:
        return f"{self.alert.alert_id}:{self.destination}:{self.attempts}"


#: Every event type, in the order the catalogue and the exported documents list them.
class SourcePolled(Event):
    """An instance starts a pass over a source at ``polled_at``; the compacted sources topic
    keeps the newest record of each source id."""

    event_name: ClassVar[str] = "SourcePolled"

    source_id: str = Field(description="id of the source in the sources file")
    polled_at: datetime = Field(description="when the instance started the pass (UTC)")
    instance: str = Field(description="the fetcher instance that polled it")

    def event_id(self) -> str:
        return f"{self.source_id}:{self.polled_at.isoformat()}"


EVENT_TYPES: tuple[type[Event], ...] = (
    ArticleFetched,
    ArticleTagged,
    Alert,
    DeadLetter,
    ArticleSeen,
    NotificationFailed,
    SourcePolled,
)
