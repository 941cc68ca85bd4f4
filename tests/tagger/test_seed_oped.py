"""The project's founding example, when the shared data folder is beside the checkout: the
op-ed must yield the indivisible-security theme with all its mentions, the cited people and
the main actors, and a critical stance toward NATO and the United States."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.schemas import ArticleTagged, StanceLabel

OPED = Path(__file__).resolve().parents[3] / "shared" / "data" / "oped-putin-state-visit.txt"


@pytest.mark.skipif(not OPED.exists(), reason=f"shared data not present at {OPED}")
def test_seed_oped_through_the_command_line() -> None:
    result = CliRunner().invoke(app, ["tag", "--json", str(OPED)])
    assert result.exit_code == 0, result.output
    tagged = ArticleTagged.from_json(result.stdout)
    theme = next(t for t in tagged.themes if t.theme_id == "indivisible-security")
    mentions = " | ".join(e.text.lower() for e in theme.evidence)
    for phrase in (
        "idea of indivisible security",
        "tenet of indivisible security",
        "indivisibility of security",
        "term of indivisible security",
        "security is indivisible",
    ):
        assert phrase.split(" of ")[-1] in mentions or phrase in mentions, phrase
    assert len(theme.evidence) >= 5
    ids = {a.actor_id for a in tagged.actors}
    expected = {
        "person:geoff-raby", "person:ray-mcgovern", "person:andrey-kortunov", "person:vattel",
        "person:vladimir-putin", "person:xi-jinping", "state:ru", "state:cn", "state:us",
        "org:nato", "org:eu", "state:ua", "org:brics", "org:sco",
    }  # fmt: skip
    assert expected <= ids, expected - ids
    stance = {s.target_id: s.label for s in tagged.stances}
    assert stance["org:nato"] == StanceLabel.CRITICAL
    assert stance["state:us"] == StanceLabel.CRITICAL
