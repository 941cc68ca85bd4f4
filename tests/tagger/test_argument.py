"""The author's stance from sentence verdicts: voice, genre and sides, on sentences written for
these tests with the sentence verdicts given (no model), so each rule is seen alone."""

from __future__ import annotations

import pytest

from mediawatch.schemas import Evidence, StanceLabel
from mediawatch.tagger.argument import ScoredMention, article_stances, voice_of
from mediawatch.tagger.stance import StancePrediction


def _prediction(score: float) -> StancePrediction:
    label = (
        StanceLabel.SUPPORTIVE
        if score > 0.2
        else StanceLabel.CRITICAL
        if score < -0.2
        else StanceLabel.NEUTRAL
    )
    return StancePrediction(label=label, score=score, probabilities={})


class _Article:
    """Sentences appended one by one, each with its mentions and their sentence verdicts."""

    def __init__(self) -> None:
        self.text = ""
        self.mentions: list[ScoredMention] = []

    def add(self, sentence: str, verdicts: dict[str, tuple[str, float]]) -> _Article:
        start = len(self.text)
        self.text += sentence + " "
        for name, (target, score) in verdicts.items():
            offset = sentence.index(name)
            span = Evidence(start=start + offset, end=start + offset + len(name), text=name)
            self.mentions.append(
                ScoredMention(("actor", target), span, sentence, start, _prediction(score))
            )
        return self

    def stances(self, genre: str | None) -> dict[str, StanceLabel]:
        targets = sorted({m.target for m in self.mentions})
        decided = article_stances(self.mentions, targets, genre=genre)
        return {target[1]: stance.label for target, stance in decided.items()}


@pytest.mark.parametrize(
    ("sentence", "name", "voice"),
    [
        ("NATO expanded eastward again.", "NATO", "author"),
        ("The minister said NATO had broken its word.", "NATO", "reported"),
        ('He called it "a NATO provocation" on Monday.', "NATO", "quoted"),
        ("As Kortunov put it, the alliance overreached.", "Kortunov", "adopted"),
        ("Officials claimed without evidence that Estonia was behind it.", "Estonia", "distanced"),
        ("According to Reuters, the talks collapsed.", "Reuters", "reported"),
        ("Critics describe NATO as an aggressive bloc.", "NATO", "reported"),
        ("The report states that NATO failed.", "NATO", "reported"),
        # Forms that are also nouns or plain verbs report nothing without a clause after them.
        ("Several EU states act in line with NATO.", "NATO", "author"),
        ("No single power writes the rules for NATO.", "NATO", "author"),
    ],
)
def test_voice_of_a_mention(sentence: str, name: str, voice: str) -> None:
    assert voice_of(sentence, sentence.index(name)) == voice


def test_hard_news_reporting_accusations_stays_neutral_toward_the_accused() -> None:
    article = (
        _Article()
        .add("Talks opened in Geneva on Monday.", {})
        .add("Kyiv accused Moscow of shelling the plant, officials said.", {"Moscow": ("ru", -0.9)})
        .add("The Kremlin said the claims were lies.", {"Kremlin": ("ru", -0.6)})
        .add("Moscow sent a delegation to the talks.", {"Moscow": ("ru", 0.0)})
    )
    assert article.stances("news")["ru"] == StanceLabel.NEUTRAL


def test_news_whose_own_voice_condemns_is_critical() -> None:
    article = (
        _Article()
        .add("The junta's brutal crackdown crushed the protests.", {"junta": ("junta", -0.9)})
        .add("The junta jailed dozens of reporters.", {"junta": ("junta", -0.8)})
    )
    assert article.stances("news")["junta"] == StanceLabel.CRITICAL


def test_an_op_ed_sides_with_the_object_of_hostility_by_an_actor_it_criticises() -> None:
    article = (
        _Article()
        .add("NATO's reckless expansion threatens peace.", {"NATO": ("nato", -0.9)})
        .add(
            "NATO wants to contain China and weaken its economy.",
            {"NATO": ("nato", -0.8), "China": ("cn", -0.6)},
        )
        .add("China seeks a balanced order.", {"China": ("cn", 0.3)})
    )
    stances = article.stances("opinion")
    assert stances["nato"] == StanceLabel.CRITICAL
    assert stances["cn"] == StanceLabel.SUPPORTIVE
    # Read as news, the hostility is reported fact: no sides are taken for China.
    assert article.stances("news")["cn"] != StanceLabel.SUPPORTIVE


#: A calmly worded hostile plan, which the sentence model reads as positive toward its agent.
PLAN_AGAINST_RUSSIA = (
    "The alliance's planners are motivated to end Russia as a great power.",
    {"planners": ("nato", 0.5), "Russia": ("ru", 0.0)},
)


def test_an_op_ed_opposes_whoever_acts_against_the_side_it_defends() -> None:
    """The sentence model reads the agent of a calmly worded hostile plan as positive; the
    article is still against it, because its object is the side the author defends."""
    article = (
        _Article()
        .add("Russia has been a reliable partner.", {"Russia": ("ru", 0.7)})
        .add(*PLAN_AGAINST_RUSSIA)
        .add("Norway trades fish with Russia.", {"Norway": ("no", 0.3), "Russia": ("ru", 0.1)})
    )
    stances = article.stances("opinion")
    assert stances["ru"] == StanceLabel.SUPPORTIVE
    assert stances["nato"] == StanceLabel.CRITICAL
    assert stances["no"] == StanceLabel.SUPPORTIVE, "no hostile action: its own tone stands"
    # A plan against a target the author does not support is not taken as the author's foe.
    neutral = (
        _Article().add("Russia held elections.", {"Russia": ("ru", 0.0)}).add(*PLAN_AGAINST_RUSSIA)
    )
    assert neutral.stances("opinion")["nato"] == StanceLabel.SUPPORTIVE
    # News takes no sides.
    assert article.stances("news")["nato"] != StanceLabel.CRITICAL


def test_an_unlabelled_article_is_argumentative_only_when_its_own_voice_evaluates() -> None:
    article = (
        _Article()
        .add("NATO's reckless expansion threatens peace.", {"NATO": ("nato", -0.9)})
        .add("NATO ignored every warning.", {"NATO": ("nato", -0.5)})
    )
    assert article.stances(None)["nato"] == StanceLabel.CRITICAL
    flat = _Article().add("NATO ministers met in Brussels.", {"NATO": ("nato", -0.2)})
    assert flat.stances(None)["nato"] == StanceLabel.NEUTRAL


def test_every_stance_says_why_and_polar_ones_show_their_sentences() -> None:
    article = _Article().add("NATO's reckless expansion threatens peace.", {"NATO": ("nato", -0.9)})
    (stance,) = article_stances(article.mentions, [("actor", "nato")], genre="opinion").values()
    assert stance.label == StanceLabel.CRITICAL
    assert "opinion" in stance.reason and "1 mention" in stance.reason
    assert stance.evidence[0].sentence == "NATO's reckless expansion threatens peace."
    (silent,) = article_stances([], [("actor", "nato")], genre="news").values()
    assert silent.label == StanceLabel.NEUTRAL and silent.reason.startswith("no mention scored")


def test_a_speaker_the_author_adopts_shares_the_authors_side() -> None:
    article = (
        _Article()
        .add("As Kortunov put it, the sanctions failed.", {"Kortunov": ("kortunov", 0.0)})
        .add("Kortunov was in Moscow.", {"Kortunov": ("kortunov", 0.0)})
    )
    assert article.stances("opinion")["kortunov"] == StanceLabel.SUPPORTIVE
    reported = _Article().add(
        "Kortunov said the sanctions failed.", {"Kortunov": ("kortunov", 0.0)}
    )
    assert reported.stances("opinion")["kortunov"] == StanceLabel.NEUTRAL


def test_an_unscored_mention_counts_only_as_an_adopted_speaker() -> None:
    sentence = "As Kortunov observed, the sanctions failed."
    span = Evidence(start=3, end=11, text="Kortunov")
    unscored = ScoredMention(("actor", "kortunov"), span, sentence, 0, None)
    (stance,) = article_stances([unscored], [("actor", "kortunov")], genre="opinion").values()
    assert stance.label == StanceLabel.SUPPORTIVE
    plain = ScoredMention(("actor", "kortunov"), span, "Kortunov was in Moscow.", 0, None)
    (stance,) = article_stances([plain], [("actor", "kortunov")], genre="opinion").values()
    assert stance.label == StanceLabel.NEUTRAL and stance.reason.startswith("no mention scored")
