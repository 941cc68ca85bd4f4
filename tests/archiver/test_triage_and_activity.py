"""What the analysts' workspace asks of the archive beside search: alert triage (who
acknowledged an alert, which rules are muted), an article's reprints, and each source's
activity. Every test runs on both backends (conftest.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.archiver.store import AlertAck, ArchiveStore, ArticleFilters, RuleMute, StoredRef
from mediawatch.schemas import Alert, AlertMode, ArticleTagged, Severity
from tests.support.alerter import T0, at, tagged

NewStore = Callable[..., ArchiveStore]
DAY = 24 * 60


def alert(alert_id: str, minutes: float, rule_id: str = "r1") -> Alert:
    return Alert(
        alert_id=alert_id,
        rule_id=rule_id,
        mode=AlertMode.EACH_MATCH,
        severity=Severity.WARNING,
        fired_at=at(minutes),
    )


def from_source(article: ArticleTagged, source_id: str) -> ArticleTagged:
    ref = article.article
    source = ref.source.model_copy(update={"id": source_id})
    return article.model_copy(update={"article": ref.model_copy(update={"source": source})})


# -- triage ------------------------------------------------------------------------------
def test_an_acknowledgement_is_stored_and_the_first_one_stands(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_alerts([alert("one", 1), alert("two", 2)])
    archive.acknowledge_alert("one", "ana", at(10))
    archive.acknowledge_alert("one", "bob", at(20))
    first = {"one": AlertAck("one", "ana", at(10))}
    assert archive.alert_triage(["one", "two", "never-fired"]) == first
    archive.upsert_alerts([alert("one", 1)])  # redelivered: the alert's row is replaced
    assert archive.alert_triage(["one"]) == first
    assert new_store().alert_triage(("two", "one")) == first, "not stored"
    archive.acknowledge_alert("two", "bob", at(30))
    assert set(archive.alert_triage(["one", "two"])) == {"one", "two"}
    assert archive.alert_triage([]) == {}


def test_acknowledging_an_alert_not_archived_raises_key_error_naming_it(
    new_store: NewStore,
) -> None:
    archive = new_store()
    archive.upsert_alerts([alert("one", 1)])
    with pytest.raises(KeyError, match="ghost"):
        archive.acknowledge_alert("ghost", "ana", at(10))
    assert archive.alert_triage(["ghost", "one"]) == {}


def test_a_mute_holds_until_its_end_and_a_later_one_replaces_it(new_store: NewStore) -> None:
    archive = new_store()
    archive.mute_rule("r1", "ana", at(0), at(60))
    archive.mute_rule("r2", "ana", at(0), at(30))
    assert archive.rule_mutes(at(10)) == {
        "r1": RuleMute("r1", "ana", at(0), at(60)),
        "r2": RuleMute("r2", "ana", at(0), at(30)),
    }
    assert list(archive.rule_mutes(at(30))) == ["r1"], "a mute ends at its until"
    assert archive.rule_mutes(at(60)) == {}
    archive.mute_rule("r1", "bob", at(20), at(120))
    assert archive.rule_mutes(at(90)) == {"r1": RuleMute("r1", "bob", at(20), at(120))}
    archive.mute_rule("r1", "bob", at(25), at(25))  # until == at: unmute
    assert archive.rule_mutes(at(26)) == {"r2": RuleMute("r2", "ana", at(0), at(30))}
    archive.mute_rule("r3", "ana", at(0), at(60))
    archive.mute_rule("r3", "ana", at(10), at(5))  # until before at: unmute too
    archive.mute_rule("never-muted", "ana", at(10), at(10))
    assert list(archive.rule_mutes(at(11))) == ["r2"]


def test_purge_removes_the_acknowledgements_of_purged_alerts_and_ended_mutes(
    new_store: NewStore,
) -> None:
    archive = new_store()
    ids = [f"al{n}" for n in range(5)]
    archive.upsert_alerts([alert(alert_id, n * 60) for n, alert_id in enumerate(ids)])
    for n, alert_id in enumerate(ids):
        archive.acknowledge_alert(alert_id, "ana", at(n * 60 + 1))
    archive.mute_rule("ended", "ana", at(0), at(60))
    archive.mute_rule("running", "ana", at(0), at(600))
    assert archive.purge_before(at(2 * 60)) == (0, 2)
    assert sorted(archive.alert_triage(ids)) == ["al2", "al3", "al4"]
    archive.upsert_alerts([alert("al0", 0)])  # arrives again: it was never acknowledged now
    assert "al0" not in archive.alert_triage(ids)
    assert list(archive.rule_mutes(at(0))) == ["running"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.acknowledge_alert("one", "", at(1)), "by"),
        (lambda s: s.acknowledge_alert("", "ana", at(1)), "alert_id"),
        (lambda s: s.mute_rule(" ", "ana", at(1), at(2)), "rule_id"),
        (lambda s: s.mute_rule("r1", "", at(1), at(2)), "by"),
        (lambda s: s.reprints_of("orig", limit=0), "limit"),
        (lambda s: s.reprints_of(""), "article_id"),
        (lambda s: s.source_activity(at(10), now=at(5)), "since"),
        (lambda s: s.source_activity(at(10), now=at(10)), "since"),
    ],
)
def test_bad_input_is_refused_naming_what_was_wrong(
    new_store: NewStore, call: Callable[[ArchiveStore], object], message: str
) -> None:
    archive = new_store()
    archive.upsert_alerts([alert("one", 1)])
    with pytest.raises(ValueError, match=f"^{message}:"):
        call(archive)
    assert archive.alert_triage(["one"]) == {}
    assert archive.rule_mutes(at(0)) == {}


def test_one_string_of_alert_ids_is_refused(new_store: NewStore) -> None:
    with pytest.raises(TypeError, match="alert_ids"):
        new_store().alert_triage("one")


# -- reprints ----------------------------------------------------------------------------
def test_reprints_are_listed_newest_first_without_their_bodies(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_articles(
        [
            tagged("orig", at(0)),
            from_source(tagged("copy-b", at(5), duplicate_of="orig"), "wire-b"),
            tagged("copy-a", at(3), duplicate_of="orig"),
            from_source(tagged("copy-c", at(10), duplicate_of="orig"), "wire-c"),
            tagged("elsewhere", at(7), duplicate_of="another"),
        ]
    )
    found = archive.reprints_of("orig")
    assert [r.article_id for r in found] == ["copy-c", "copy-b", "copy-a"]
    assert found[0] == StoredRef(
        "copy-c", "Title of copy-c", "wire-c", at(10), "https://news.example.org/copy-c"
    )
    assert [r.article_id for r in archive.reprints_of("orig", limit=2)] == ["copy-c", "copy-b"]
    assert archive.reprints_of("copy-b") == []
    assert archive.reprints_of("not-archived") == []
    archive.upsert_articles([tagged("copy-c", at(10))])  # corrected: not a reprint after all
    assert [r.article_id for r in archive.reprints_of("orig")] == ["copy-b", "copy-a"]


def test_the_reprint_query_reads_an_index_not_the_table(new_store: NewStore) -> None:
    archive = new_store()
    archive.upsert_articles([tagged(f"a{n}", at(n), duplicate_of="a0") for n in range(1, 20)])
    if isinstance(archive, SqliteArchive):
        plan = sqlite3.connect(archive.path).execute(
            "EXPLAIN QUERY PLAN SELECT article_id FROM articles WHERE duplicate_of = ? "
            "ORDER BY row DESC LIMIT 50",
            ("a0",),
        )
        details = " ".join(str(row[-1]) for row in plan)
        assert "articles_by_original" in details and "TEMP B-TREE" not in details, details
    else:
        with psycopg.connect(archive.url, autocommit=True) as db:  # type: ignore[attr-defined]
            db.execute("SET enable_seqscan = off")
            lines = db.execute(
                "EXPLAIN SELECT article_id FROM articles WHERE duplicate_of = 'a0' "
                "ORDER BY fetched_us DESC, article_id DESC LIMIT 50"
            ).fetchall()
        details = " ".join(str(row[0]) for row in lines)
        assert "articles_by_original" in details and "Sort" not in details, details


# -- source activity ---------------------------------------------------------------------
def test_source_activity_counts_each_source_per_day_with_its_last_fetch(
    new_store: NewStore,
) -> None:
    archive = new_store()
    since, now = at(DAY), at(3 * DAY)  # 2025-03-04 06:00 to 2025-03-06 06:00
    archive.upsert_articles(
        [
            from_source(tagged("quiet-1", at(0)), "quiet"),
            from_source(tagged("wire-before", at(DAY - 1)), "wire"),
            from_source(tagged("wire-at-since", since), "wire"),
            from_source(tagged("wire-1", at(DAY + 60)), "wire"),
            from_source(tagged("wire-reprint", at(DAY + 61), duplicate_of="wire-1"), "wire"),
            from_source(tagged("wire-2", at(2 * DAY + 10 * 60)), "wire"),
            from_source(tagged("wire-last", now - timedelta(microseconds=1)), "wire"),
            from_source(tagged("wire-at-now", now), "wire"),
            from_source(tagged("daily-1", at(2 * DAY)), "daily"),
        ]
    )
    activity = {a.source_id: a for a in archive.source_activity(since, now=now)}
    assert list(activity) == ["daily", "quiet", "wire"]
    days = ["2025-03-04", "2025-03-05", "2025-03-06"]
    wire = activity["wire"]
    assert wire.per_day == dict(zip(days, [3, 1, 1], strict=True)), "reprints count"
    assert wire.articles == 5
    assert wire.last_fetched == now, "the newest article of any time, not of the period"
    quiet = activity["quiet"]
    assert (quiet.articles, quiet.last_fetched) == (0, at(0))
    assert quiet.per_day == dict.fromkeys(days, 0)
    daily = activity["daily"]
    assert (daily.articles, daily.per_day["2025-03-05"], daily.last_fetched) == (1, 1, at(2 * DAY))
    # The stories of the same days leave the reprint out: the trend is not an activity.
    stories = archive.trend(None, "source", ArticleFilters(since=since, until=now))
    assert sum(p.stories for p in stories if p.group == "wire") == wire.articles - 1


def test_source_activity_of_an_empty_archive_and_a_naive_since(new_store: NewStore) -> None:
    archive = new_store()
    assert archive.source_activity(at(0), now=at(DAY)) == []
    archive.upsert_articles([tagged("x", at(30))])
    [only] = archive.source_activity((T0 - timedelta(hours=1)).replace(tzinfo=None), now=at(60))
    assert only.per_day == {"2025-03-03": 1} and only.last_fetched == at(30)


# -- migration ---------------------------------------------------------------------------
def test_a_store_at_version_2_is_upgraded_and_its_rows_are_filled(new_store: NewStore) -> None:
    old = new_store(schema_version=2)
    assert old.schema_version() == 2  # type: ignore[attr-defined]
    old.upsert_articles([tagged("orig", at(0)), tagged("copy", at(5), duplicate_of="orig")])
    old.upsert_alerts([alert("one", 1)])
    old.close()
    upgraded = new_store()
    assert upgraded.schema_version() == 4  # type: ignore[attr-defined]
    assert upgraded.migrate() == []  # type: ignore[attr-defined]
    assert upgraded.reprints_of("orig") == [
        StoredRef("copy", "Title of copy", "test-source", at(5), "https://news.example.org/copy")
    ], "the rows archived before version 4 have their title and address"
    upgraded.acknowledge_alert("one", "ana", at(10))
    assert upgraded.alert_triage(["one"]) == {"one": AlertAck("one", "ana", at(10))}
    upgraded.upsert_articles([tagged("copy-2", at(6), duplicate_of="orig")])
    assert [r.article_id for r in upgraded.reprints_of("orig")] == ["copy-2", "copy"]


# -- theme counts --------------------------------------------------------------------------
def test_theme_counts_count_articles_since_a_time_most_first(new_store: NewStore) -> None:
    store = new_store()
    store.upsert_articles(
        [
            tagged("old", at(0), themes=("nato", "brics")),
            tagged("a", at(DAY), themes=("nato", "brics")),
            tagged("b", at(DAY + 1), themes=("nato",)),
            tagged("c", at(DAY + 2), themes=("sco",)),
        ]
    )
    assert store.theme_counts(at(DAY)) == [("nato", 2), ("brics", 1), ("sco", 1)]
    assert store.theme_counts(at(DAY), limit=1) == [("nato", 2)]
    assert store.theme_counts(at(2 * DAY)) == []
