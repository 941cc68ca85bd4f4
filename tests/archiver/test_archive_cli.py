"""``mediawatch archive search``: its output formats and its errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from mediawatch.archiver.sqlite import SqliteArchive
from mediawatch.cli.main import app
from tests.support.alerter import at, tagged

runner = CliRunner()


def archive(tmp_path: Path) -> Path:
    path = tmp_path / "archive.sqlite3"
    store = SqliteArchive(path)
    store.upsert_articles(
        [
            tagged("one", at(1), text="Indivisible security was the theme in Moscow."),
            tagged("two", at(2), text="A marathon [in] the Alps.", country="CH"),
            tagged("three", at(3), text="Moscow spoke of indivisible security again."),
        ]
    )
    store.close()
    return path


def test_jsonl_carries_the_article_and_its_evidence(tmp_path: Path) -> None:
    path = archive(tmp_path)
    result = runner.invoke(
        app,
        [
            "archive",
            "search",
            '"indivisible security"',
            "--archive",
            str(path),
            "--format",
            "jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["article"]["article"]["article_id"] for line in lines] == ["three", "one"]
    assert all(
        e["text"].lower() == "indivisible security" for line in lines for e in line["evidence"]
    )


def test_csv_has_a_header_and_a_row_per_hit(tmp_path: Path) -> None:
    path = archive(tmp_path)
    result = runner.invoke(
        app,
        [
            "archive",
            "search",
            "marathon",
            "--archive",
            str(path),
            "--format",
            "csv",
            "--country",
            "ch",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["article_id"] for row in rows] == ["two"]
    assert rows[0]["evidence"] == "marathon"


def test_the_table_pages_with_a_cursor(tmp_path: Path) -> None:
    path = archive(tmp_path)
    first = runner.invoke(app, ["archive", "search", "", "--archive", str(path), "--limit", "2"])
    assert first.exit_code == 0, first.output
    assert "2 result(s)" in first.stdout
    cursor = first.stderr.split("--cursor ")[1].strip()
    rest = runner.invoke(
        app, ["archive", "search", "", "--archive", str(path), "--limit", "2", "--cursor", cursor]
    )
    assert "1 result(s)" in rest.stdout and "one" in rest.stdout, rest.output


def test_a_bad_query_names_its_position_and_a_missing_archive_says_what_to_run(
    tmp_path: Path,
) -> None:
    path = archive(tmp_path)
    bad = runner.invoke(app, ["archive", "search", "(nato AND", "--archive", str(path)])
    assert bad.exit_code == 2
    assert "search failed" in bad.stderr and "position" in bad.stderr, bad.stderr
    missing = runner.invoke(app, ["archive", "search", "x", "--archive", str(tmp_path / "no.db")])
    assert missing.exit_code == 2
    assert "mediawatch archiver run" in missing.stderr


def test_all_exports_every_page_with_one_header(tmp_path: Path) -> None:
    path = archive(tmp_path)
    result = runner.invoke(
        app, ["archive", "search", "", "--archive", str(path), "--format", "csv", "--limit", "1",
              "--all"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["article_id"] for row in rows] == ["three", "two", "one"]
    table = runner.invoke(app, ["archive", "search", "", "--archive", str(path), "--all"])
    assert table.exit_code != 0 and "--all" in table.output
