"""The tagging pipeline on an op-ed written for these tests: themes, actors, stance."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediawatch.fetcher.files import read_article
from mediawatch.schemas import ArticleTagged, StanceLabel
from mediawatch.tagger.pipeline import Tagger
from mediawatch.tagger.settings import TaggerSettings

FIXTURE = Path(__file__).parent / "fixtures" / "oped-indivisible.txt"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    settings = TaggerSettings()
    return Tagger.from_files(settings.themes_file, settings.actors_file)


@pytest.fixture(scope="module")
def tagged(tagger: Tagger) -> ArticleTagged:
    """The fixture as its page would label it: an opinion piece."""
    return tagger.tag(read_article(FIXTURE).model_copy(update={"genre": "opinion"}))


def test_indivisible_security_theme_has_every_mention(tagged: ArticleTagged) -> None:
    theme = next(t for t in tagged.themes if t.theme_id == "indivisible-security")
    text_spans = [e for e in theme.evidence if e.field == "text"]
    # "indivisible security" x3 and "security is indivisible" x1 in the body.
    assert len(text_spans) == 4
    for evidence in text_spans:
        assert tagged.text[evidence.start : evidence.end] == evidence.text
        assert evidence.text.lower() in evidence.sentence.lower()
        assert evidence.sentence_start is not None
        assert tagged.text[evidence.sentence_start : evidence.sentence_end] == evidence.sentence


def test_actors_include_catalogue_and_cited_people(tagged: ArticleTagged) -> None:
    ids = {actor.actor_id for actor in tagged.actors}
    for expected in (
        "person:vladimir-putin",
        "person:xi-jinping",
        "state:ru",
        "state:cn",
        "state:us",
        "org:nato",
        "org:eu",
        "state:ua",
        "org:brics",
        "org:sco",
        "person:ray-mcgovern",
        "person:andrey-kortunov",
    ):
        assert expected in ids, f"{expected} missing from {sorted(ids)}"
    cited = next(a for a in tagged.actors if a.actor_id == "person:ray-mcgovern")
    assert cited.in_catalogue is False
    for actor in tagged.actors:
        for mention in actor.mentions:
            field = tagged.article.title if mention.field == "title" else tagged.text
            assert field[mention.start : mention.end] == mention.text
            assert mention.sentence


def test_stance_toward_nato_is_critical_with_evidence(tagged: ArticleTagged) -> None:
    nato = next(s for s in tagged.stances if s.target_id == "org:nato")
    assert nato.label == StanceLabel.CRITICAL
    assert nato.score < 0
    assert nato.evidence and "NATO" in nato.evidence[0].sentence
    assert {s.target_kind for s in tagged.stances} == {"actor", "theme"}


def test_event_records_versions_timings_and_size(tagged: ArticleTagged) -> None:
    assert tagged.tagger.timings_ms["total"] > 0
    assert set(tagged.tagger.catalogue_versions) == {"themes", "actors"}
    assert tagged.text_end == tagged.text_length == len(tagged.text)
    assert tagged.truncated is False
    assert tagged.language == "en"


def test_long_articles_are_truncated_and_say_so(tagger: Tagger) -> None:
    article = read_article(FIXTURE)
    long_text = (article.text + "\n\n") * 200
    small = Tagger(
        tagger.theme_stage.matcher,
        tagger.actor_stage.resolver,
        tagger.stance_stage.model,
        max_chars=5_000,
        max_stance_mentions=4,
    )
    tagged = small.tag(article.model_copy(update={"text": long_text}))
    assert tagged.truncated is True
    assert tagged.text_end == 5_000
    assert tagged.text_length == len(long_text)
    assert all(e.end <= 5_000 for t in tagged.themes for e in t.evidence if e.field == "text")


def test_french_article_uses_the_language_variant(tagger: Tagger) -> None:
    article = read_article(FIXTURE).model_copy(
        update={
            "language": None,
            "text": "La Russie et la Chine défendent le principe de la sécurité indivisible "
            "et critiquent l'élargissement de l'OTAN vers l'est. Pour Moscou, la sécurité "
            "des uns ne peut pas se construire au détriment de celle des autres.",
        }
    )
    tagged = tagger.tag(article)
    assert tagged.language == "fr"
    assert "indivisible-security" in {t.theme_id for t in tagged.themes}
    # No stance model reads French: every stance is unknown and says why, never a guess.
    assert tagged.stances
    for stance in tagged.stances:
        assert stance.label == StanceLabel.UNKNOWN
        assert stance.score == 0.0 and not stance.evidence
        assert "no stance model reads language 'fr'" in stance.reason


def test_the_stance_budget_goes_to_themes_first_then_catalogue_actors(tagger: Tagger) -> None:
    article = read_article(FIXTURE)
    frugal = Tagger(
        tagger.theme_stage.matcher,
        tagger.actor_stage.resolver,
        tagger.stance_stage.model,
        max_stance_mentions=8,
        min_stance_pairs=3,
        stance_pairs_per_1000_words=0,
    )
    tagged = frugal.tag(article)
    counted = [s for s in tagged.stances if not s.reason.startswith("no mention scored")]
    assert 1 <= len(counted) <= 3
    assert {s.target_kind for s in counted} >= {"theme"}
    open_world = {a.actor_id for a in tagged.actors if not a.in_catalogue}
    assert not any(s.target_id in open_world for s in counted)
    left_out = [s for s in tagged.stances if s.reason.startswith("no mention scored")]
    assert left_out and all(s.label == StanceLabel.NEUTRAL for s in left_out)


def test_a_russian_article_gets_unknown_stance_not_the_english_models_guess(
    tagger: Tagger,
) -> None:
    article = read_article(Path(__file__).parent / "fixtures" / "article-ru.txt")
    tagged = tagger.tag(article)
    assert tagged.language == "ru"
    assert {s.target_id for s in tagged.stances} >= {"state:ru", "org:nato"}
    assert {s.label for s in tagged.stances} == {StanceLabel.UNKNOWN}
