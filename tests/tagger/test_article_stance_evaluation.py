"""``mediawatch eval article-stance``: article stance against hand labels, on bodies written
for these tests; and the held-out split of the hand-labelled FNC-1 set where its bodies are
beside the checkout."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.cli.main import app
from tests.support.environment import NEWS_BODIES

GOLD = Path(__file__).parent / "fixtures" / "stance_gold" / "gold.jsonl"
#: Floor for the held-out split, a little under what it measured when set (docs/stance.md).
HELD_OUT_AGREEMENT = 0.80

runner = CliRunner()

NEWS = (
    "Ministers from Norway and Sweden met in Oslo on Tuesday to discuss fishing quotas. "
    "Norway said the talks had been useful, and a further round is planned for June. "
    "Officials from both countries declined to give details of the proposals."
)


def _files(tmp_path: Path, body: str, sha: str | None = None) -> tuple[Path, Path]:
    bodies = tmp_path / "bodies.csv"
    with bodies.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Body ID", "articleBody"])
        writer.writerow(["7", body])
    gold = tmp_path / "gold.jsonl"
    line = {
        "body_id": 7,
        "sha256": sha or hashlib.sha256(body.encode("utf-8")).hexdigest(),
        "split": "heldout",
        "genre": "news",
        "stances": [
            {"target": "state:no", "label": "neutral", "reason": "reported talks"},
            {"target": "org:nato", "label": "critical", "reason": "not in the text at all"},
        ],
    }
    gold.write_text(json.dumps(line) + "\n", encoding="utf-8")
    return gold, bodies


def test_eval_article_stance_reports_agreement_and_confusion(tmp_path: Path) -> None:
    gold, bodies = _files(tmp_path, NEWS)
    result = runner.invoke(
        app, ["eval", "article-stance", "--gold", str(gold), "--bodies", str(bodies), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["targets"] == 2
    assert report["agreement"] == 0.5  # neutral toward Norway agrees; NATO is not there
    assert report["confusion"] == {"neutral->neutral": 1, "critical->absent": 1}


def test_a_body_that_is_not_the_labelled_text_is_refused(tmp_path: Path) -> None:
    gold, bodies = _files(tmp_path, NEWS, sha="0" * 64)
    result = runner.invoke(
        app, ["eval", "article-stance", "--gold", str(gold), "--bodies", str(bodies)]
    )
    assert result.exit_code == 2
    assert "is not the labelled text (sha256 differs)" in " ".join(result.output.split())
    assert "gold.jsonl:1: body 7 in" in " ".join(result.output.split())


@pytest.mark.skipif(not NEWS_BODIES.exists(), reason=f"FNC-1 bodies not present at {NEWS_BODIES}")
def test_held_out_news_keeps_its_neutrality() -> None:
    """Almost every labelled actor of this news is neutral; the floor guards against the
    tagger calling stance where the reporting takes none."""
    result = runner.invoke(
        app,
        ["eval", "article-stance", "--gold", str(GOLD), "--bodies", str(NEWS_BODIES),
         "--split", "heldout", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["targets"] >= 80
    assert report["agreement"] >= HELD_OUT_AGREEMENT, report
