"""The sample corpus and its manifest agree, and the tagger finds what the manifest says."""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any

import pycountry
import pytest
import yaml

from mediawatch.query import builtin_themes_file
from mediawatch.stack.samples import (
    ARTICLES_DIR,
    SAMPLES_DIR,
    SampleManifest,
    fill_inbox,
    load_manifest,
    read_sample,
    words,
)

MANIFEST = load_manifest()
BY_FILE = MANIFEST.by_file()


def similarity(a: str, b: str) -> float:
    first, second = (" ".join(read_sample(ARTICLES_DIR / f)[1]) for f in (a, b))
    return difflib.SequenceMatcher(None, words(first), words(second), autojunk=False).ratio()


def test_every_file_is_listed_once_and_every_entry_has_a_file() -> None:
    files = sorted(p.name for p in ARTICLES_DIR.glob("*.txt"))
    listed = [a.file for a in MANIFEST.articles]
    assert sorted(listed) == files
    assert len(set(listed)) == len(listed)
    assert 18 <= len(files) <= 24


@pytest.mark.parametrize("article", MANIFEST.articles, ids=lambda a: a.slug)
def test_article_shape(article: Any) -> None:
    title, paragraphs = read_sample(ARTICLES_DIR / article.file)
    assert 3 <= len(title) <= 120 and not title.endswith(".")
    assert len(paragraphs) >= 3, "one paragraph per line"
    count = len(words(" ".join(paragraphs)))
    assert 150 <= count <= 400, f"{count} words"
    assert pycountry.countries.get(alpha_2=article.country) is not None


@cache
def _stopword_language(text: str) -> str:
    tokens = words(text)
    french = {"le", "la", "les", "des", "une", "est", "et", "que", "pour", "dans", "ne", "sur"}
    english = {"the", "and", "of", "to", "is", "that", "in", "for", "on", "with", "was", "it"}
    fr = sum(t in french for t in tokens)
    en = sum(t in english for t in tokens)
    return "fr" if fr > en else "en"


@pytest.mark.parametrize("article", MANIFEST.articles, ids=lambda a: a.slug)
def test_declared_language_is_the_text_language(article: Any) -> None:
    text = (ARTICLES_DIR / article.file).read_text(encoding="utf-8")
    assert _stopword_language(text) == article.language


def test_the_corpus_covers_the_brief() -> None:
    texts = {a.file: (ARTICLES_DIR / a.file).read_text(encoding="utf-8") for a in MANIFEST.articles}
    english_indivisible = [
        f
        for f, t in texts.items()
        if BY_FILE[f].language == "en" and "indivisible security" in t.lower()
    ]
    assert len(english_indivisible) >= 2
    assert any("principle of indivisible security" in t.lower() for t in texts.values())
    french = [f for f in texts if BY_FILE[f].language == "fr"]
    assert french and all("sécurité indivisible" in texts[f] for f in french)
    unrelated = [a for a in MANIFEST.articles if not a.themes]
    assert 3 <= len(unrelated) <= 4
    themes = {t for a in MANIFEST.articles for t in a.themes}
    for theme in (
        "nato-expansion", "war-in-ukraine", "china-russia-partnership", "indivisible-security",
        "sanctions-decoupling", "brics", "sco", "nuclear-deterrence", "helsinki-osce",
    ):  # fmt: skip
        assert theme in themes
    stances = {(h.target, h.label) for a in MANIFEST.articles for h in a.stance}
    assert ("nato-expansion", "supportive") in stances
    assert ("nato-expansion", "critical") in stances
    assert len({a.outlet_id for a in MANIFEST.articles}) == len(MANIFEST.articles)


def test_the_near_duplicate_pair_is_near_identical_and_nothing_else_is() -> None:
    pairs = [(a.file, a.near_duplicate_of) for a in MANIFEST.articles if a.near_duplicate_of]
    assert pairs, "the corpus needs at least one near-duplicate pair"
    for copy, original in pairs:
        assert original in BY_FILE and original != copy
        ratio = similarity(copy, original)
        assert 0.9 <= ratio < 1.0, f"{copy} vs {original}: {ratio:.2f} (lightly edited)"
    paired = {frozenset(p) for p in pairs}
    files = [a.file for a in MANIFEST.articles]
    for index, first in enumerate(files):
        for second in files[index + 1 :]:
            if frozenset((first, second)) not in paired:
                assert similarity(first, second) < 0.5, (first, second)


def _catalogue_ids(path: Path, key: str) -> set[str]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(entry["id"]) for entry in document[key]}


def test_theme_and_actor_ids_exist_in_the_catalogues() -> None:
    from mediawatch.tagger.catalogue import load_actor_catalogue

    themes = _catalogue_ids(builtin_themes_file(), "themes")
    actors = {actor.id for actor in load_actor_catalogue(SAMPLES_DIR / "actors.yaml")}
    for article in MANIFEST.articles:
        for theme in article.themes:
            assert theme in themes, f"{article.file}: unknown theme {theme}"
        for actor in article.actors:
            state = re.fullmatch(r"state:([a-z]{2})", actor)
            known = actor in actors or (
                state is not None and pycountry.countries.get(alpha_2=state.group(1)) is not None
            )
            assert known, f"{article.file}: unknown actor {actor}"
        for hint in article.stance:
            assert hint.target in themes or hint.target in article.actors, hint


@cache
def _tagger() -> Any:
    from mediawatch.tagger.pipeline import Tagger

    return Tagger.from_files(builtin_themes_file(), SAMPLES_DIR / "actors.yaml")


@pytest.mark.parametrize("article", MANIFEST.articles, ids=lambda a: a.slug)
def test_the_tagger_finds_the_expected_themes_and_key_actors(article: Any) -> None:
    from mediawatch.fetcher.files import read_article

    tagged = _tagger().tag(read_article(ARTICLES_DIR / article.file))
    assert tagged.language == article.language
    assert sorted(t.theme_id for t in tagged.themes) == sorted(article.themes)
    found = {a.actor_id for a in tagged.actors}
    assert set(article.actors) <= found, f"missing {set(article.actors) - found}"


#: The genre each kind of sample carries on its page and in its feed (stack/feed.py).
GENRES = {"op-ed": "opinion", "news": "news", "analysis": "analysis"}


@cache
def _tagged_as_fetched(file: str) -> Any:
    """The sample tagged with the genre its page and feed entry declare."""
    from mediawatch.fetcher.files import read_article

    article = BY_FILE[file]
    fetched = read_article(ARTICLES_DIR / file).model_copy(
        update={"genre": GENRES[article.kind], "genre_from": "section"}
    )
    return _tagger().tag(fetched)


#: Share of the manifest's stance hints (English articles) that the article stance must
#: match: a floor a little under what it measured when set (docs/stance.md). The goal of
#: issue #12 is 0.9; it is not reached yet.
SAMPLE_AGREEMENT = 0.65


def test_the_article_stance_agrees_with_the_readers_hints() -> None:
    """Every stance hint of the manifest, against the tagger's article-level stance. Hints
    on articles in a language no stance model reads must come out unknown instead."""
    agreed, disagreed = 0, []
    for article in MANIFEST.articles:
        if not article.stance:
            continue
        stances = {s.target_id: s for s in _tagged_as_fetched(article.file).stances}
        if article.language != "en":
            assert {stances[h.target].label.value for h in article.stance} == {"unknown"}
            continue
        for hint in article.stance:
            found = stances.get(hint.target)
            if found is not None and found.label.value == hint.label:
                agreed += 1
            else:
                got = found.label.value if found else "absent"
                disagreed.append(f"{article.file} {hint.target}: {got}, expected {hint.label}")
    total = agreed + len(disagreed)
    assert total >= 25
    assert agreed / total >= SAMPLE_AGREEMENT, "\n".join(disagreed)


def test_every_stance_carries_its_reason_and_polar_ones_their_evidence() -> None:
    for article in MANIFEST.articles:
        for stance in _tagged_as_fetched(article.file).stances:
            assert stance.reason, (article.file, stance.target_id)
            if stance.label.value in ("supportive", "critical"):
                assert stance.evidence, (article.file, stance.target_id)
                for span in stance.evidence:
                    assert span.sentence and span.sentence_start is not None


def test_fill_inbox_copies_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    copied = fill_inbox(inbox)
    assert sorted(p.name for p in copied) == sorted(BY_FILE)
    (inbox / copied[0].name).unlink()
    assert fill_inbox(inbox) == []
    assert len(list(inbox.iterdir())) == len(BY_FILE) - 1


def test_manifest_model_rejects_unknown_fields() -> None:
    data = yaml.safe_load((SAMPLES_DIR / "manifest.yaml").read_text())
    data["articles"][0]["outlet_typo"] = "x"
    with pytest.raises(ValueError):
        SampleManifest.model_validate(data)
