"""ArticleTagged events for the alerter tests, built directly with chosen tags and times, and
a runner that feeds them to the alerter's own evaluator."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from mediawatch.alerter.engine import Tick, decode_rule_input, encode_rule_input
from mediawatch.alerter.evaluator import RuleEvaluator
from mediawatch.alerter.rules import Rule
from mediawatch.alerter.state import RuleState
from mediawatch.schemas import (
    ActorTag,
    Alert,
    AlertArticle,
    AlertMode,
    ArticleRef,
    ArticleTagged,
    Evidence,
    Severity,
    SourceInfo,
    StanceTag,
    TaggerInfo,
    ThemeTag,
)

T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tagged(
    article_id: str,
    fetched_at: datetime = T0,
    *,
    themes: tuple[str, ...] = (),
    actors: tuple[str, ...] = (),
    stances: dict[str, float] | None = None,
    text: str = "A short article about nothing in particular.",
    duplicate_of: str | None = None,
    country: str = "GB",
    outlet_type: str = "newspaper",
    language: str = "en",
) -> ArticleTagged:
    span = Evidence(start=0, end=7, text=text[:7], sentence=text, sentence_start=0,
                    sentence_end=len(text))  # fmt: skip
    return ArticleTagged(
        article=ArticleRef(
            article_id=article_id,
            url=f"https://news.example.org/{article_id}",
            title=f"Title of {article_id}",
            source=SourceInfo(
                id="test-source",
                type="feed",
                name="Test Source",
                country=country,
                outlet_type=outlet_type,
                language=language,
            ),
            fetched_at=fetched_at,
            language=language,
            content_hash=hashlib.sha256(article_id.encode()).hexdigest(),
            duplicate_of=duplicate_of,
        ),
        text_end=len(text),
        text_length=len(text),
        language=language,
        text=text,
        themes=[ThemeTag(theme_id=t, label=t, evidence=[span]) for t in themes],
        actors=[ActorTag(actor_id=a, name=a, type="organisation", mentions=[span]) for a in actors],
        stances=[
            StanceTag(
                target_kind="actor",
                target_id=target,
                score=score,
                evidence=[span],
                label="critical" if score < -0.2 else "supportive" if score > 0.2 else "neutral",
            )
            for target, score in (stances or {}).items()
        ],
        tagger=TaggerInfo(version="test"),
        tagged_at=fetched_at,
    )


class Runner:
    """Rules fed through :class:`RuleEvaluator` as the service feeds them (step 1, the
    encoded record, step 2), over plain dicts for its two tables."""

    def __init__(
        self,
        *rules: Rule,
        states: dict[str, Any] | None = None,
        counted: dict[str, Any] | None = None,
        rules_version: str = "test-rules",
        **memory: int,
    ) -> None:
        self.states: dict[str, Any] = states if states is not None else {}
        self.counted: dict[str, Any] = counted if counted is not None else {}
        self.evaluator = RuleEvaluator(rules, rules_version, self.states, self.counted, **memory)
        self.alerts: list[Alert] = []
        self.suppressed: list[str] = []

    def state(self, rule_id: str) -> RuleState:
        return self.evaluator.state(rule_id)

    async def feed(self, event: ArticleTagged) -> list[Alert]:
        fired: list[Alert] = []
        for match in self.evaluator.matches(event):
            fired += await self.process(encode_rule_input(match))
        return fired

    async def tick(self, now: float, *rule_ids: str) -> list[Alert]:
        fired: list[Alert] = []
        for rule_id in rule_ids or tuple(self.evaluator.rules):
            fired += await self.process(encode_rule_input(Tick(rule_id=rule_id, now=now)))
        return fired

    async def process(self, payload: bytes) -> list[Alert]:
        published: list[Alert] = []

        async def publish(alert: Alert) -> None:
            published.append(alert)

        evaluation = await self.evaluator.apply(decode_rule_input(payload), publish)
        if evaluation is not None:
            self.suppressed += evaluation.suppressed
        self.alerts += published
        return published


#: An alert of the notification tests.
ALERT = Alert(
    alert_id="r1:a1",
    rule_id="r1",
    mode=AlertMode.EACH_MATCH,
    severity=Severity.WARNING,
    summary="indivisible security invoked",
    articles=[
        AlertArticle(
            article_id="a1",
            title="Op-ed",
            url="https://news.example.org/a1",
            source=SourceInfo(id="s", type="feed"),
            fetched_at=datetime(2025, 3, 3, tzinfo=UTC),
        )
    ],
    fired_at=datetime(2025, 3, 3, 0, 0, 1, tzinfo=UTC),
)
