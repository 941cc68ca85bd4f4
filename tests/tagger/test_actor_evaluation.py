"""``mediawatch eval actors`` and its scoring, on labelled texts written for these tests; and
the held-out part of the hand-labelled FNC-1 set, where the bodies are beside the checkout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.evaluation import (
    GoldFileError,
    load_gold,
    normalise_name,
    score_actors,
)
from mediawatch.tagger.language import resolve_language
from mediawatch.tagger.ner import RecogniserPool
from tests.support.environment import NEWS_BODIES

GOLD = Path(__file__).parent / "fixtures" / "actors_gold" / "gold.jsonl"
#: Floors for the held-out split, a little under what it measured when they were set (see
#: docs/actors.md for the figures); a change that loses quality fails here.
HELD_OUT_PRECISION = 0.70
HELD_OUT_RECALL = 0.80

runner = CliRunner()


def _write(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_eval_actors_prints_per_type_figures_misses_and_extras(tmp_path: Path) -> None:
    gold = _write(
        tmp_path,
        [
            {
                "id": "a1",
                "text": "Vladimir Putin met Jane Okafor of the Baltic Security Institute. "
                "The Kremlin said the talks went well, Reuters reported.",
                "actors": [
                    {"name": "Vladimir Putin", "type": "person", "id": "person:vladimir-putin"},
                    {"name": "Jane Okafor", "type": "person"},
                    {"name": "Baltic Security Institute", "type": "organisation"},
                    {"name": "Russia", "type": "state", "id": "state:ru"},
                    {"name": "Reuters", "type": "source"},
                    {"name": "Tomas Lindqvist", "type": "person"},
                ],
            }
        ],
    )
    result = runner.invoke(app, ["eval", "actors", "--gold", str(gold)])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "recall" in result.output
    assert "Tomas Lindqvist" in result.output  # listed among the misses
    report = json.loads(
        runner.invoke(app, ["eval", "actors", "--gold", str(gold), "--json"]).stdout
    )
    assert report["types"]["person"] == {
        "precision": 1.0, "recall": 0.6667, "f1": 0.8, "tp": 2, "fp": 0, "fn": 1,
    }  # fmt: skip
    assert report["types"]["state"]["tp"] == 1
    assert report["types"]["organisation"]["tp"] == 1
    assert report["types"]["source"]["tp"] == 1
    assert report["misses"] == [["a1", "person", "Tomas Lindqvist"]]


def test_a_wrong_type_is_a_miss_and_an_extra() -> None:
    from mediawatch.schemas import ActorTag, Evidence
    from mediawatch.tagger.evaluation import GoldActor, GoldArticle

    article = GoldArticle(
        "x", "Quilliam said so.", "", "en", None, (GoldActor("Quilliam", "organisation"),)
    )
    predicted = ActorTag(
        actor_id="person:quilliam",
        name="Quilliam",
        type="person",
        in_catalogue=False,
        mentions=[Evidence(start=0, end=8, text="Quilliam")],
    )
    report = score_actors([article], lambda _: [predicted])
    assert (report.counts["organisation"].fn, report.counts["person"].fp) == (1, 1)
    assert report.total().tp == 0


def test_names_are_compared_without_case_accents_articles_or_titles() -> None:
    assert normalise_name("The U.S.") == normalise_name("the US") == "us"
    assert normalise_name("Queen Elizabeth") == "elizabeth"
    assert normalise_name("Élysée") == "elysee"
    assert normalise_name("Trump's") == "trump"


def test_gold_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "x", "actors": [{"name": "A", "type": "human"}]}\n')
    with pytest.raises(GoldFileError, match=r"bad.jsonl:1: .*type 'human'"):
        load_gold(path)
    path.write_text('{"body_id": 5, "actors": []}\n')
    with pytest.raises(GoldFileError, match="pass --bodies"):
        load_gold(path)
    path.write_text("not json\n")
    result = runner.invoke(app, ["eval", "actors", "--gold", str(path)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output


def test_the_labelled_set_is_well_formed() -> None:
    lines = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 100
    splits = [line["split"] for line in lines]
    assert splits.count("heldout") >= 25 and splits.count("dev") >= 25
    assert len({line["body_id"] for line in lines}) == len(lines)
    for line in lines:
        assert len(line["sha256"]) == 64
        for actor in line["actors"]:
            assert actor["type"] in ("person", "organisation", "state", "source")


@pytest.mark.skipif(not NEWS_BODIES.exists(), reason=f"the FNC-1 bodies are not at {NEWS_BODIES}")
def test_held_out_recall_and_precision() -> None:
    articles = [a for a in load_gold(GOLD, NEWS_BODIES) if a.split == "heldout"]
    resolver = ActorResolver(load_actor_catalogue(), RecogniserPool())
    report = score_actors(
        articles,
        lambda a: resolver.resolve(a.text, None, resolve_language(a.language, a.text)),
    )
    total = report.total()
    assert total.precision >= HELD_OUT_PRECISION, (total.precision, report.extras)
    assert total.recall >= HELD_OUT_RECALL, (total.recall, report.misses)
