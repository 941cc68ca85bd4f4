"""An article's genre from what the publisher says: schema.org type, section, feed category,
URL path, inbox and push fields, the source; in that order, saying where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediawatch.fetcher.extract import extract_html
from mediawatch.fetcher.genre import genre_of_json_ld, genre_of_labels, genre_of_url
from mediawatch.fetcher.inbox import candidate_from_file
from mediawatch.fetcher.publish import Candidate, build_event
from mediawatch.fetcher.push import PushArticle, candidate_from_push
from mediawatch.schemas import ExtractionInfo, SourceInfo
from tests.support.site import ARTICLES, page

TITLE, PARAGRAPHS = ARTICLES["harbour"]


def test_schema_org_types_name_the_genre_even_inside_a_graph() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage"}, {"@type": ["NewsArticle", "OpinionNewsArticle"]}]}  # fmt: skip
    assert genre_of_json_ld([json.dumps(graph)]) == ("opinion", "schema.org OpinionNewsArticle")
    assert genre_of_json_ld(['{"@type": "AnalysisNewsArticle"}'])[0] == "analysis"  # type: ignore[index]
    assert genre_of_json_ld(['{"@type": "ReportageNewsArticle"}'])[0] == "news"  # type: ignore[index]
    assert genre_of_json_ld(['{"@type": "NewsArticle"}', "{broken"]) is None


@pytest.mark.parametrize(
    ("labels", "genre"),
    [
        (["Opinion"], "opinion"),
        (["Comment is free"], "opinion"),
        (["Op-Ed"], "opinion"),
        (["Idées"], "opinion"),
        (["Мнения"], "opinion"),
        (["World", "Analysis"], "analysis"),
        (["News"], "news"),
        (["Sport"], None),
    ],
)
def test_section_and_category_words(labels: list[str], genre: str | None) -> None:
    found = genre_of_labels(labels, "section")
    assert (found[0] if found else None) == genre


@pytest.mark.parametrize(
    ("url", "genre"),
    [
        ("https://example.org/opinion/2026/05/17/the-case-for-talks", "opinion"),
        ("https://example.org/commentisfree/2026/may/17/x", "opinion"),
        ("https://example.org/world/analysis/why-it-matters", "analysis"),
        ("https://example.org/news/harbour", "news"),
        ("https://example.org/world/opinion-polls-show-a-lead", None),
        ("https://example.org/opinion", None),  # the section's own index page, not an article
        (None, None),
    ],
)
def test_url_path_segments(url: str | None, genre: str | None) -> None:
    found = genre_of_url(url)
    assert (found[0] if found else None) == genre


def test_a_page_declares_its_genre_by_schema_type_before_its_section() -> None:
    html = page(TITLE, PARAGRAPHS, schema_type="AnalysisNewsArticle").replace(
        "</head>", '<meta property="article:section" content="Opinion"></head>'
    )
    extracted = extract_html(html, "https://example.org/x")
    assert (extracted.genre, extracted.genre_from) == ("analysis", "schema.org AnalysisNewsArticle")
    sectioned = extract_html(page(TITLE, PARAGRAPHS).replace(
        "</head>", '<meta property="article:section" content="Opinion"></head>'))  # fmt: skip
    assert (sectioned.genre, sectioned.genre_from) == ("opinion", "section 'Opinion'")
    assert extract_html(page(TITLE, PARAGRAPHS)).genre is None


def _candidate(url: str | None, source_genre: str | None = None) -> Candidate:
    source = SourceInfo(id="s", type="feed", genre=source_genre)  # type: ignore[arg-type]
    return Candidate(
        source=source,
        title=TITLE,
        text="\n\n".join(PARAGRAPHS),
        extraction=ExtractionInfo(method="trafilatura"),
        url=url,
    )


def test_the_event_takes_the_article_label_then_the_url_then_the_source() -> None:
    event, _ = build_event(_candidate("https://example.org/opinion/a/b", source_genre="news"))
    assert (event.genre, event.genre_from) == ("opinion", "URL path /opinion/")
    event, _ = build_event(_candidate("https://example.org/a/b", source_genre="analysis"))
    assert (event.genre, event.genre_from) == ("analysis", "source")
    event, _ = build_event(_candidate(None))
    assert (event.genre, event.genre_from) == (None, None)
    labelled = _candidate("https://example.org/opinion/a/b")
    labelled.genre, labelled.genre_from = "news", "section 'News'"
    assert build_event(labelled)[0].genre == "news"


def test_inbox_and_push_fields_carry_the_genre(tmp_path: Path) -> None:
    item = {"title": TITLE, "text": "\n\n".join(PARAGRAPHS), "genre": "opinion"}
    path = tmp_path / "piece.json"
    path.write_text(json.dumps(item))
    candidate = candidate_from_file(path, SourceInfo(id="inbox", type="inbox"))
    assert (candidate.genre, candidate.genre_from) == ("opinion", "inbox field")
    path.write_text(json.dumps(item | {"genre": "satire"}))
    with pytest.raises(ValueError, match="genre"):
        candidate_from_file(path, SourceInfo(id="inbox", type="inbox"))
    pushed = candidate_from_push(
        PushArticle.model_validate(item | {"genre": "analysis"}), SourceInfo(id="push", type="push")
    )
    assert (pushed.genre, pushed.genre_from) == ("analysis", "push field")
