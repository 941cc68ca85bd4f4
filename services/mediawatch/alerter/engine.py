"""Rule conditions: does a tagged article match a rule, and the records that carry a match
(or a clock tick) to the rule's state.

Evaluation has two steps so that the alerter scales like the rest of the stack:

1. :func:`match_article` is stateless and runs on the partition of the article;
2. the :class:`RuleMatch` or :class:`Tick` travels keyed by rule id to where the rule's state
   lives, and :mod:`evaluator` applies it (see :mod:`state`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, TypeAdapter, ValidationError

from mediawatch.alerter.rules import Rule
from mediawatch.alerter.windows import to_epoch
from mediawatch.schemas import (
    AlertArticle,
    ArticleTagged,
    Event,
    Evidence,
    StanceLabel,
)

#: Evidence items kept per article in an alert.
_EVIDENCE_PER_ARTICLE = 8


class CompiledRule:
    """A rule with its query compiled once."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.query: Any = None
        if rule.condition.query:
            from mediawatch.query import compile_query

            self.query = compile_query(rule.condition.query)


def match_article(compiled: CompiledRule, tagged: ArticleTagged) -> AlertArticle | None:
    """The article as it would appear in an alert of this rule, or None if it does not match."""
    condition = compiled.rule.condition
    article = tagged.article
    if article.duplicate_of and not condition.include_duplicates:
        return None
    sources = condition.sources
    language = tagged.language or article.language or article.source.language
    if sources.country and (article.source.country or "").upper() not in {
        c.upper() for c in sources.country
    }:
        return None
    if sources.outlet_type and article.source.outlet_type not in sources.outlet_type:
        return None
    if sources.language and (language or "").split("-")[0].lower() not in {
        code.lower() for code in sources.language
    }:
        return None
    if sources.source_id and article.source.id not in sources.source_id:
        return None
    if condition.genres and article.genre not in condition.genres:
        return None

    article_themes = {theme.theme_id: theme for theme in tagged.themes}
    matched_themes = [t for t in condition.themes if t in article_themes]
    if condition.themes and not matched_themes:
        return None
    if any(t not in article_themes for t in condition.all_themes):
        return None
    matched_themes += [t for t in condition.all_themes if t not in matched_themes]

    # Outlets only cited as sources (role "source") are not actors of the story.
    article_actors = {a.actor_id: a for a in tagged.actors if a.role == "actor"}
    matched_actors = [a for a in condition.actors if a in article_actors]
    if condition.actors and not matched_actors:
        return None

    stances = []
    for wanted in condition.stance:
        found = [
            s
            for s in tagged.stances
            if s.target_id == wanted.target
            and (wanted.kind is None or s.target_kind == wanted.kind)
        ]
        # An unknown stance (no model for the language) has no score to hold a bound.
        holding = [s for s in found if s.label != StanceLabel.UNKNOWN and wanted.holds(s.score)]
        if not holding:
            return None
        stances.extend(holding)

    evidence: list[Evidence] = []
    if compiled.query is not None:
        from mediawatch.query import Document

        document = Document(
            tagged.text,
            title=article.title,
            language=language,
            source_id=article.source.id,
            country=article.source.country,
            outlet_type=article.source.outlet_type,
            genre=article.genre,
        )
        result = compiled.query.evaluate(document)
        if not result.matched:
            return None
        evidence.extend(e.shifted(tagged.text_start) for e in result.evidence)
    for theme_id in matched_themes:
        evidence.extend(article_themes[theme_id].evidence[:2])
    for stance in stances:
        evidence.extend(stance.evidence[:2])
    for actor_id in matched_actors:
        if not stances:
            evidence.extend(article_actors[actor_id].mentions[:1])
    unique: dict[tuple[str, int, int], Evidence] = {}
    for item in evidence:
        unique.setdefault((item.field, item.start, item.end), item)

    return AlertArticle(
        article_id=article.article_id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        fetched_at=article.fetched_at,
        genre=article.genre,
        themes=matched_themes or sorted(article_themes),
        actors=matched_actors
        or [a.actor_id for a in tagged.actors if a.in_catalogue and a.role == "actor"],
        stances=stances,
        evidence=list(unique.values())[:_EVIDENCE_PER_ARTICLE],
    )


class RuleMatch(Event):
    """What travels from step 1 to step 2 on ``<app_id>-rule-matches``: one article matched
    one rule. A versioned event like the public ones, so a reader rejects a record of a
    major version it does not know instead of half-reading it."""

    event_name: ClassVar[str] = "RuleMatch"
    kind: Literal["match"] = "match"
    rule_id: str
    at: float = Field(description="event time of the article (fetched_at, epoch seconds)")
    story: str = Field(description="the story's first article id (reprints share it)")
    article: AlertArticle

    @classmethod
    def of(cls, rule_id: str, tagged: ArticleTagged, article: AlertArticle) -> RuleMatch:
        ref = tagged.article
        story = ref.duplicate_of or ref.article_id
        return cls(rule_id=rule_id, at=to_epoch(ref.fetched_at), story=story, article=article)


class Tick(Event):
    """What the rule timer sends a rule on the same topic: time reached ``now`` (wall
    clock)."""

    event_name: ClassVar[str] = "RuleTick"
    kind: Literal["tick"] = "tick"
    rule_id: str
    now: float


_RULE_INPUT: TypeAdapter[RuleMatch | Tick] = TypeAdapter(
    Annotated[RuleMatch | Tick, Field(discriminator="kind")]
)


def encode_rule_input(rule_input: RuleMatch | Tick) -> bytes:
    """The record of the ``<app_id>-rule-matches`` topic that carries a match or a tick."""
    return rule_input.to_json()


RuleInput = RuleMatch | Tick


class RuleInputDecoder:
    """The decoder of the ``<app_id>-rule-matches`` topic for the alerter's event pipe."""

    def decode(self, data: bytes | None) -> RuleInput:
        if data is None:
            raise ValueError("a rule input record has no value")
        return decode_rule_input(data)


def decode_rule_input(payload: bytes) -> RuleMatch | Tick:
    """A record of the ``<app_id>-rule-matches`` topic; a ValueError names what is wrong
    with one that is not (the field and the value)."""
    record = json.loads(payload)
    if not isinstance(record, dict):
        raise ValueError(f"a rule input must be a JSON object, got {type(record).__name__}")
    kind = record.get("kind")
    kinds: dict[str, type[Event]] = {"match": RuleMatch, "tick": Tick}
    event_type = kinds.get(str(kind))
    if event_type is None:
        raise ValueError(f"unknown rule input kind {kind!r}")
    event_type.check_version(record)
    try:
        return _RULE_INPUT.validate_python(record)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in error['loc'][1:]) or '(root)'}: {error['msg']}"
            + (f" (got {error['input']!r:.80})" if error["type"] != "missing" else "")
            for error in exc.errors()
        ]
        raise ValueError(f"{event_type.event_name}: " + "; ".join(problems)) from None
