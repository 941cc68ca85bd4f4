"""The author's stance toward each target, article by article: the argument, not the tone.

The sentence model says how one sentence portrays one mention. An article's stance is not
the mean of that: in hard news most polar sentences are what somebody else said, and in an
op-ed a defended state is often the object of hostile verbs ("NATO wants to contain China").
:func:`article_stances` reads the sentence predictions in three steps:

1. **Voice.** Each scored mention sits in the author's own voice, in a quotation, or in
   reported speech ("X said ...", "according to X"). Reported speech is the speaker's view;
   it counts for the author only where the author adopts the speaker ("As X put it", "X
   rightly noted") and never where the author distances ("X claimed", "so-called").
2. **Genre.** In news the article is polar toward a target only where its own voice is
   clearly evaluative; in opinion and analysis the author's voice is the point. An article
   whose genre nobody labelled is read as argumentative when its own voice evaluates.
3. **Sides.** In an argumentative article, a target portrayed negatively in a sentence where
   an actor the author criticises is the hostile party ("the U.S.-led allies launched a hybrid
   war against Russia") is the victim of that actor, and the author's sympathy goes to it.
   Conversely, an actor whose hostile action ("contain", "weaken", "to end") targets a side
   the author then supports is the author's adversary, however calm its sentence. A
   speaker the author adopts shares the author's side.

Each result keeps its evidence (the mentions that carried it) and a short reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mediawatch.schemas import Evidence, StanceLabel
from mediawatch.tagger.stance import StancePrediction

__all__ = ["ArticleStance", "ScoredMention", "Voice", "article_stances", "voice_of"]

Voice = Literal["author", "quoted", "reported", "adopted", "distanced"]

#: Weight of a mention's sentence score in the article score, by voice and article kind.
_WEIGHTS: Mapping[tuple[Voice, bool], float] = {
    ("author", True): 1.0,
    ("author", False): 1.0,
    ("adopted", True): 1.0,
    ("adopted", False): 0.3,
    ("quoted", True): 0.25,
    ("quoted", False): 0.0,
    ("reported", True): 0.25,
    ("reported", False): 0.0,
    ("distanced", True): 0.0,
    ("distanced", False): 0.0,
}
#: |score| from which an argumentative article is polar toward a target.
ARGUMENT_BAND = 0.12
#: |score| from which a news article's own voice makes it polar toward a target, and the
#: number of its own polar sentences that must agree on the direction.
NEWS_BAND = 0.5
NEWS_AGREEING = 2
#: Share of strongly polar author-voice mentions that marks an unlabelled article as
#: argumentative.
EVALUATIVE_SHARE = 0.7
#: A sentence score at least this strong counts as polar.
POLAR = 0.4
#: The score a speaker gets from each sentence in which the author adopts their view.
ADOPTED_SPEAKER = 0.6

_REPORTING = (
    r"said|says|told|tells|argued|argues|claimed|alleged|accused|accuses|"
    r"warned|warns|insisted|insists|stated|noted|observed|observes|added|"
    r"believes|believed|wrote|asserted|asserts|contended|contends|opined|opines|"
    r"suggested|suggests|announced|announces|declared|declares|put it|pointed out|"
    r"reiterated|reiterates|confirmed|confirms|denied|denies|maintained|maintains|"
    r"describe[sd]?|called|portray(?:s|ed)?|depict(?:s|ed)?|brand(?:s|ed)?|"
    r"label(?:s|led|ed)?|viewed\b.{1,60}\bas|see[sn]?\b.{1,60}\bas|saw\b.{1,60}\bas|"
    r"feared|hoped|expected"
)
#: Forms that are as often nouns or plain verbs ("member states", "writes the rules") and
#: report speech only when a clause follows ("states that", "claims:").
_REPORTING_BEFORE_CLAUSE = (
    r"states|notes|claims|adds|writes|calls|views|fears|hopes|expects|call|fear|hope|expect"
)
_REPORTED = re.compile(
    rf"\b(?:{_REPORTING})\b|\b(?:{_REPORTING_BEFORE_CLAUSE})\b(?=\s*(?:that\b|:))"
    r"|\baccording to\b|\bin the words of\b|\bin (?:his|her|their) view\b",
    re.IGNORECASE,
)
_ADOPTED = re.compile(
    r"^\W*as\s+[^,]{1,80}?\b(?:put it|observed|noted|argued|said|wrote|pointed out|"
    r"rightly|aptly|explained|observes|notes|argues|says|writes|puts it)\b"
    r"|\b(?:rightly|aptly|correctly|wisely|persuasively|insightful(?:ly)?)\b",
    re.IGNORECASE,
)
_DISTANCED = re.compile(
    r"\b(?:claimed|claims|alleged|alleges|so-called|would have us believe|"
    r"tried to convince|try to convince|tries to convince|purported(?:ly)?|insinuat\w*|"
    r"without (?:any )?evidence|naive|utopian|propaganda)\b",
    re.IGNORECASE,
)


def _inside_quotes(sentence: str, offset: int) -> bool:
    """Whether ``offset`` lies between an opening and a closing double quote."""
    opened = False
    for char in sentence[:offset]:
        if char in '"„«“':
            opened = not opened if char == '"' else True
        elif char in "”»":
            opened = False
    return opened


def voice_of(sentence: str, offset: int) -> Voice:
    """The voice of the mention at ``offset`` of ``sentence``."""
    if _inside_quotes(sentence, offset):
        return "quoted"
    if _REPORTED.search(sentence) is None:
        return "author"
    if _DISTANCED.search(sentence):
        return "distanced"
    if _ADOPTED.search(sentence):
        return "adopted"
    return "reported"


@dataclass(frozen=True)
class ScoredMention:
    """One mention of a target with the sentence model's verdict and its place."""

    target: tuple[str, str]  # (kind, id)
    span: Evidence
    sentence: str
    sentence_start: int
    #: None for a mention the budget left unscored: it can still count as a speaker the
    #: author adopts, which needs no model.
    prediction: StancePrediction | None


@dataclass(frozen=True)
class ArticleStance:
    label: StanceLabel
    score: float
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""


@dataclass
class _Contribution:
    mention: ScoredMention
    voice: Voice
    weight: float
    score: float
    why: str


def _argumentative(genre: str | None, contributions: Sequence[_Contribution]) -> tuple[bool, str]:
    if genre in ("opinion", "analysis"):
        return True, genre
    if genre == "news":
        return False, "news"
    own = [c for c in contributions if c.voice == "author"]
    polar = [c for c in own if abs(c.score) >= POLAR]
    if own and len(polar) / len(own) >= EVALUATIVE_SHARE:
        return True, "evaluative author voice"
    return False, "mostly neutral author voice"


def _scores(contributions: Sequence[_Contribution]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], list[float]] = {}
    for c in contributions:
        if c.weight > 0:
            pair = totals.setdefault(c.mention.target, [0.0, 0.0])
            pair[0] += c.weight * c.score
            pair[1] += c.weight
    return {t: total / weight for t, (total, weight) in totals.items() if weight > 0}


def article_stances(
    mentions: Sequence[ScoredMention],
    targets: Sequence[tuple[str, str]],
    *,
    genre: str | None,
) -> dict[tuple[str, str], ArticleStance]:
    """The article's stance toward each of ``targets`` from its scored mentions."""
    contributions = []
    for mention in mentions:
        offset = mention.span.start - mention.sentence_start
        voice = voice_of(mention.sentence, offset)
        score = mention.prediction.score if mention.prediction is not None else 0.0
        contributions.append(_Contribution(mention, voice, 0.0, score, voice))
    argumentative, kind = _argumentative(genre, contributions)
    for c in contributions:
        c.weight = _WEIGHTS[(c.voice, argumentative)] if c.mention.prediction is not None else 0.0
    first = _scores(contributions)
    if argumentative:
        _take_sides(contributions, first)
    final = _scores(contributions)
    band = ARGUMENT_BAND if argumentative else NEWS_BAND
    result: dict[tuple[str, str], ArticleStance] = {}
    for target in targets:
        own = [
            c
            for c in contributions
            if c.mention.target == target and (c.mention.prediction is not None or c.weight)
        ]
        score = max(-1.0, min(1.0, final.get(target, 0.0)))
        if not argumentative:
            # Reporting keeps its distance: one loaded sentence is not a position.
            agreeing = [
                c
                for c in own
                if c.voice == "author" and abs(c.score) >= POLAR and c.score * score > 0
            ]
            if len(agreeing) < NEWS_AGREEING:
                score = max(-band / 2, min(band / 2, score))
        if score >= band:
            label = StanceLabel.SUPPORTIVE
        elif score <= -band:
            label = StanceLabel.CRITICAL
        else:
            label = StanceLabel.NEUTRAL
        result[target] = ArticleStance(label, score, *_explain(own, label, kind))
    return result


def _take_sides(
    contributions: Sequence[_Contribution], scores: Mapping[tuple[str, str], float]
) -> None:
    """Victims of a criticised actor get the author's sympathy (see the module text)."""
    by_sentence: dict[int, list[_Contribution]] = {}
    for c in contributions:
        by_sentence.setdefault(c.mention.sentence_start, []).append(c)
    for group in by_sentence.values():
        hostile = [
            c
            for c in group
            if c.voice == "author"
            and c.score <= -POLAR
            and scores.get(c.mention.target, 0.0) <= -ARGUMENT_BAND
        ]
        if not hostile:
            continue
        for c in group:
            if c.weight == 0 or c.score >= 0:
                continue
            agent = next(
                (
                    h
                    for h in hostile
                    if h.mention.target != c.mention.target and _acts_on(h.mention, c.mention)
                ),
                None,
            )
            if agent is None:
                continue
            c.score = -c.score * 0.6
            c.why = f"object of hostility by {agent.mention.target[1]}"
    # With the victims known, who acts against them is the author's adversary.
    sympathies = _scores(contributions)
    for group in by_sentence.values():
        _mark_aggressors(group, sympathies)
    for c in contributions:
        if c.voice == "adopted" and c.mention.target[0] == "actor" and _is_speaker(c.mention):
            c.score, c.weight = ADOPTED_SPEAKER, 1.0
            c.why = "speaker the author adopts"


#: Verbs of hostile action between an agent and its object ("NATO seeks to contain China",
#: "Washington wants to weaken Russia").
_HOSTILE_ACTION = re.compile(
    r"\b(?:contain(?:s|ed|ing|ment)?|encircl\w*|weaken\w*|isolat\w*|sanction\w*|"
    r"undermin\w*|suppress\w*|destabili[sz]\w*|provok\w*|threaten\w*|attack\w*|"
    r"punish\w*|humiliat\w*|defeat\w*|to end|bring down|brought down)\b",
    re.IGNORECASE,
)


def _mark_aggressors(
    group: Sequence[_Contribution], scores: Mapping[tuple[str, str], float]
) -> None:
    """An agent of hostile action against a target the author supports is the author's
    adversary, whatever the tone of its sentence ("the key states of NATO are motivated to
    end Russia as a great power and contain China's rise")."""
    for agent in group:
        if agent.voice != "author" or agent.weight == 0 or agent.mention.target[0] != "actor":
            continue
        for other in group:
            if other.mention.target == agent.mention.target or not _acts_on(
                agent.mention, other.mention
            ):
                continue
            if scores.get(other.mention.target, 0.0) < ARGUMENT_BAND:
                continue
            if _HOSTILE_ACTION.search(_between(agent.mention, other.mention)):
                agent.score = -max(abs(agent.score), ADOPTED_SPEAKER)
                agent.why = f"acts against {other.mention.target[1]}, whom the author supports"
                break


def _is_speaker(mention: ScoredMention) -> bool:
    """Whether the mention is the speaker of an adopting frame ("As Ray McGovern put it")."""
    offset = mention.span.start - mention.sentence_start
    frame = _ADOPTED.search(mention.sentence)
    return frame is not None and frame.start() <= offset < frame.end()


_COORDINATED = re.compile(r"^\W*(?:and|or|as well as|together with|along with|,)?\W*$", re.I)


def _acts_on(agent: ScoredMention, other: ScoredMention) -> bool:
    """Whether ``other`` comes after ``agent`` in their sentence, not merely coordinated with
    it ("NATO and Russia"), as the object of what the agent does usually does."""
    if other.span.start <= agent.span.end:
        return False
    return _COORDINATED.match(_between(agent, other)) is None


def _between(agent: ScoredMention, other: ScoredMention) -> str:
    """The words of their sentence from the end of ``agent`` to the start of ``other``."""
    return agent.sentence[
        agent.span.end - agent.sentence_start : other.span.start - other.sentence_start
    ]


def _explain(
    own: Sequence[_Contribution], label: StanceLabel, kind: str
) -> tuple[list[Evidence], str]:
    counted = [c for c in own if c.weight > 0]
    if not own:
        return [], (
            "no mention scored: named in the title only, or the article's stance budget "
            "(stance_pairs_per_1000_words) went to more central targets"
        )
    if not counted:
        voices = sorted({c.voice for c in own})
        return [], f"{kind}: only {', '.join(voices)} mentions, which are not the author's voice"
    sign = {StanceLabel.SUPPORTIVE: 1, StanceLabel.CRITICAL: -1}.get(label, 0)
    ranked = sorted(counted, key=lambda c: -(c.weight * c.score * sign if sign else -abs(c.score)))
    strongest = ranked[:3]
    whys = sorted({c.why for c in strongest})
    evidence = [
        c.mention.span.model_copy(
            update={
                "sentence": c.mention.sentence,
                "sentence_start": c.mention.sentence_start,
                "sentence_end": c.mention.sentence_start + len(c.mention.sentence),
            }
        )
        for c in strongest
    ]
    return evidence, f"{kind}; {len(counted)} mention(s) counted; " + ", ".join(whys)
