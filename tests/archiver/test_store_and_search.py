"""The SQLite archive and search in the query language (issue 16, items 1 and 2, in part).

The central property: a search finds exactly the articles that the query library matches,
checked against the library itself over a corpus with accents, Cyrillic, underscores,
wildcards, phrases, NEAR, NOT and scopes. No broker here; tests/archiver/test_archiver_stream.py
runs the service through a real one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from mediawatch.archiver.search import SearchError, candidate_condition, document_of, search
from mediawatch.archiver.sqlite import SqliteArchive, fts5_expression
from mediawatch.archiver.store import ArchiveStore, ArticleFilters
from mediawatch.query import QueryIndex, parse_query
from mediawatch.schemas import Alert, AlertMode, ArticleTagged, Severity
from mediawatch.stack.samples import SAMPLES_DIR
from tests.support.alerter import at, tagged

NewStore = Callable[..., ArchiveStore]

EXTRA_TEXTS = [
    "La sécurité indivisible est au cœur du discours de Moscou.",
    "Президент Путин говорил о неделимой безопасности в Пекине.",
    "The Nord_Stream pipeline and NORD STREAM 2 were discussed by engineers.",
    "Security Council members met; security guarantees were not on the agenda.",
    "Straße and STRASSE, naïve cafés, and Œuvre: folding edge cases.",
    "NATO expansion worried Moscow, which called it a threat to indivisible security.",
    "A marathon in the Alps drew runners from twelve countries.",
]

QUERIES = [
    '"indivisible security"',
    "indivisible NEAR/3 security",
    "secur*",
    "s?curity AND NOT council",
    "nato OR kremlin OR moscow",
    "title:ceasefire",
    '"nord stream"',
    "nord_stream",
    "securite",
    "путин",
    "strasse",
    "(expansion OR enlargement) AND nato",
    "lang:fr",
    "NOT marathon",
    "repeat2:security",
    "moscow ONEAR/8 threat",
]


def corpus() -> list[ArticleTagged]:
    texts = [p.read_text() for p in sorted((SAMPLES_DIR / "articles").glob("*.txt"))]
    articles = []
    for n, text in enumerate([*texts, *EXTRA_TEXTS]):
        language = "fr" if "sécurité" in text else "ru" if "Путин" in text else "en"
        article = tagged(f"a{n:03d}", at(n), text=text, language=language)
        title = text.splitlines()[0][:80]
        articles.append(
            article.model_copy(
                update={"article": article.article.model_copy(update={"title": title})}
            )
        )
    return articles


@pytest.fixture
def store(new_store: NewStore) -> ArchiveStore:
    archive = new_store()
    archive.upsert_articles(corpus())
    return archive


def every_match(query: str, articles: list[ArticleTagged]) -> list[str]:
    compiled = QueryIndex().compile(query)
    return [a.article.article_id for a in articles if compiled.evaluate(document_of(a)).matched]


@pytest.mark.parametrize("query", QUERIES)
def test_a_search_finds_exactly_what_the_query_library_matches(
    store: ArchiveStore, query: str
) -> None:
    articles = corpus()
    expected = sorted(every_match(query, articles), reverse=True)  # newest first = highest id
    page = search(store, query, ArticleFilters(), limit=1000)
    assert [hit.article.article.article_id for hit in page.hits] == expected
    assert page.next_cursor is None


def test_the_corpus_and_queries_can_tell_a_wrong_search_apart() -> None:
    """Each query matches some articles and not all, so an empty or a full answer fails."""
    articles = corpus()
    for query in QUERIES:
        found = every_match(query, articles)
        assert 0 < len(found) < len(articles), (query, len(found))


def test_the_index_prunes_candidates(store: ArchiveStore) -> None:
    page = search(store, '"indivisible security"', ArticleFilters(), limit=1000)
    assert page.hits
    assert page.candidates_read < len(corpus()) / 2, page.candidates_read


def test_evidence_spans_point_into_the_text(store: ArchiveStore) -> None:
    [hit] = search(store, '"nord stream 2"', ArticleFilters(), limit=10).hits
    fields = {"title": hit.article.article.title, "text": hit.article.text}
    spans = [(e.field, fields[e.field][e.start : e.end].casefold()) for e in hit.evidence]
    assert spans == [("title", "nord stream 2"), ("text", "nord stream 2")]


def fts5(query: str) -> str | None:
    condition = candidate_condition(parse_query(query))
    return None if condition is None else fts5_expression(condition)


def test_the_fts5_expression_of_each_node_kind() -> None:
    assert fts5('"a b c"') == '("a" AND "b" AND "c")'
    assert fts5("secur* OR nato") == '("secur"* OR "nato")'
    assert fts5("x NEAR/2 y") == '("x" AND "y")'
    assert fts5("nato AND NOT russia") == '"nato"'
    assert fts5("nato OR NOT russia") is None
    assert fts5("nord_stream") == '("nord" AND "stream")'
    assert fts5("lang:ru") is None
    assert fts5("s?curity") == '"s"*'


def test_filters_narrow_before_the_text(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_articles(
        [
            tagged("gb", at(1), themes=("nato",), country="GB", text="NATO met."),
            tagged("ru", at(2), themes=("nato",), country="RU", language="ru", text="NATO met."),
            tagged("us", at(3), actors=("state:us",), country="US", text="NATO met."),
        ]
    )

    def ids(**filters: object) -> list[str]:
        page = search(archive, "nato", ArticleFilters(**filters), limit=10)  # type: ignore[arg-type]
        return [h.article.article.article_id for h in page.hits]

    assert ids() == ["us", "ru", "gb"]
    assert ids(countries=("RU", "GB")) == ["ru", "gb"]
    assert ids(themes=("nato",)) == ["ru", "gb"]
    assert ids(actors=("state:us",)) == ["us"]
    assert ids(languages=("ru",)) == ["ru"]
    assert ids(since=at(2)) == ["us", "ru"]
    assert ids(until=at(2)) == ["gb"]
    assert ids(sources=("elsewhere",)) == []


def test_cursor_pages_cover_the_results_once_in_order(store: ArchiveStore) -> None:
    everything = [
        h.article.article.article_id for h in search(store, "", ArticleFilters(), limit=1000).hits
    ]
    seen: list[str] = []
    cursor = None
    while True:
        page = search(store, "", ArticleFilters(), limit=4, cursor=cursor, batch=3)
        seen.extend(h.article.article.article_id for h in page.hits)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything and len(set(seen)) == len(seen) == len(corpus())


def test_an_upsert_replaces_and_never_duplicates(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_articles([tagged("x", at(1), themes=("old",), text="old words here")])
    archive.upsert_articles([tagged("x", at(1), themes=("new",), text="new words here")] * 2)
    assert archive.count_articles() == 1
    assert search(archive, "old", ArticleFilters(), limit=5).hits == []
    assert [
        h.article.article.article_id for h in search(archive, "new", ArticleFilters(), limit=5).hits
    ] == ["x"]
    assert search(archive, "", ArticleFilters(themes=("old",)), limit=5).hits == []
    assert len(search(archive, "", ArticleFilters(themes=("new",)), limit=5).hits) == 1


def alert(alert_id: str, minutes: float, rule_id: str = "r1") -> Alert:
    return Alert(
        alert_id=alert_id,
        rule_id=rule_id,
        mode=AlertMode.EACH_MATCH,
        severity=Severity.WARNING,
        fired_at=at(minutes),
    )


def test_alerts_are_upserted_by_id_and_read_newest_first(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_alerts([alert("one", 1), alert("two", 2), alert("one", 1)])
    archive.upsert_alerts([alert("three", 3, rule_id="r2")])
    assert archive.count_alerts() == 3
    assert [a.alert_id for a in archive.alerts()] == ["three", "two", "one"]
    assert [a.alert_id for a in archive.alerts(rule_id="r1")] == ["two", "one"]


def test_retention_deletes_what_is_older_and_its_index(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_articles([tagged(f"n{n}", at(n * 60), text=f"nato item {n}") for n in range(5)])
    archive.upsert_alerts([alert(f"al{n}", n * 60) for n in range(5)])
    assert archive.purge_before(at(2 * 60)) == (2, 2)
    assert sorted(archive.article_ids()) == ["n2", "n3", "n4"]
    assert archive.count_alerts() == 3
    page = search(archive, "nato", ArticleFilters(), limit=10)
    assert [h.article.article.article_id for h in page.hits] == ["n4", "n3", "n2"]
    if isinstance(archive, SqliteArchive):  # PostgreSQL's index is a column of the row
        rows = sqlite3.connect(archive.path).execute("SELECT count(*) FROM article_index")
        assert rows.fetchone()[0] == 3, "index rows of deleted articles were left"


def test_migrations_upgrade_a_store_from_its_first_version(new_store: NewStore) -> None:
    first = new_store(schema_version=1)
    assert first.schema_version() == 1  # type: ignore[attr-defined]
    first.upsert_articles([tagged("kept", at(0), text="nato", themes=("nato",))])
    first.close()
    upgraded = new_store()
    assert upgraded.schema_version() == 4  # type: ignore[attr-defined]
    assert upgraded.migrate() == []  # type: ignore[attr-defined]
    assert upgraded.article("kept") is not None
    page = search(upgraded, "nato", ArticleFilters(sources=("test-source",)), limit=5)
    assert [h.article.article.article_id for h in page.hits] == ["kept"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unbalanced', "position"),
        ("(((nato", "position"),
        ("*", "position"),
        ("nato AND", "position"),
        ("x' OR 1=1; DROP TABLE articles; --", ""),
    ],
)
def test_hostile_queries_are_refused_with_the_position_or_run_safely(
    store: ArchiveStore, query: str, message: str
) -> None:
    try:
        page = search(store, query, ArticleFilters(), limit=10)
    except SearchError as exc:
        assert message in str(exc), str(exc)
        return
    assert not message, f"{query!r} was accepted"
    assert isinstance(page.hits, list)
    assert store.count_articles() == len(corpus()), "the query changed the store"


def test_bad_cursors_and_limits_are_refused(store: ArchiveStore) -> None:
    with pytest.raises(SearchError, match="cursor"):
        search(store, "", ArticleFilters(), cursor="not-a-cursor")
    with pytest.raises(SearchError, match="limit"):
        search(store, "", ArticleFilters(), limit=0)


def test_a_bounded_candidate_read_still_pages_on(store: ArchiveStore) -> None:
    page = search(store, "NOT marathon", ArticleFilters(), limit=1000, max_candidates=5, batch=2)
    assert page.candidates_read == 5
    assert page.next_cursor is not None
    rest = search(store, "NOT marathon", ArticleFilters(), limit=1000, cursor=page.next_cursor)
    found = [h.article.article.article_id for h in [*page.hits, *rest.hits]]
    assert found == sorted(every_match("NOT marathon", corpus()), reverse=True)


def trend_store(new_store: NewStore) -> ArchiveStore:
    archive = new_store()
    day = 24 * 60
    archive.upsert_articles(
        [
            tagged("d1-gb", at(0), themes=("nato",), country="GB", actors=("state:ru", "org:nato"),
                   stances={"state:ru": -0.7}),
            tagged("d1-ru", at(5), themes=("nato",), country="RU", actors=("state:ru",),
                   stances={"state:ru": 0.6}),
            tagged("d1-reprint", at(6), themes=("nato",), country="GB", duplicate_of="d1-gb",
                   actors=("state:ru",)),
            tagged("d2-gb", at(day), themes=("nato", "brics"), country="GB",
                   actors=("state:ru", "org:nato"), stances={"state:ru": -0.5}),
            tagged("d2-other", at(day + 1), themes=("brics",), country="IN", actors=("org:brics",)),
        ]
    )  # fmt: skip
    return archive


def test_trends_count_stories_not_reprints_per_day_and_group(new_store: NewStore) -> None:
    archive = trend_store(new_store)
    points = archive.trend("nato", "country", ArticleFilters())
    assert [(p.day, p.group, p.stories) for p in points] == [
        ("2025-03-03", "GB", 1),
        ("2025-03-03", "RU", 1),
        ("2025-03-04", "GB", 1),
    ]
    overall = archive.trend(None, None, ArticleFilters(countries=("GB", "IN")))
    assert [(p.day, p.stories) for p in overall] == [("2025-03-03", 1), ("2025-03-04", 2)]


def test_an_actor_timeline_has_mentions_stance_and_company(new_store: NewStore) -> None:
    timeline = trend_store(new_store).actor_timeline("state:ru", ArticleFilters())
    first, second = timeline.days
    assert (first.day, first.articles, first.supportive, first.critical) == ("2025-03-03", 3, 1, 1)
    assert first.mean_score == pytest.approx((-0.7 + 0.6) / 2)
    assert (second.articles, second.critical, second.mean_score) == (1, 1, pytest.approx(-0.5))
    assert timeline.co_occurring == [("org:nato", 2)]


def test_the_stance_filter_and_stories_only(new_store: NewStore) -> None:
    archive = trend_store(new_store)

    def ids(filters: ArticleFilters) -> list[str]:
        return [h.article.article.article_id for h in search(archive, "", filters, limit=50).hits]

    assert ids(ArticleFilters(stances=(("state:ru", "critical"),))) == ["d2-gb", "d1-gb"]
    assert ids(ArticleFilters(stances=(("state:ru", "supportive"),))) == ["d1-ru"]
    assert "d1-reprint" not in ids(ArticleFilters(stories_only=True))
    assert "d1-reprint" in ids(ArticleFilters())


def test_a_page_stops_at_its_time_bound_and_pages_on(store: ArchiveStore) -> None:
    page = search(store, "NOT marathon", ArticleFilters(), limit=1000, time_limit_s=0.0)
    assert page.candidates_read == 1 and page.next_cursor is not None
