"""Seats, capitals, venues, demonyms, short forms, typos, sources and open-world names, in
English, Russian and French: the cases of ``fixtures/actor_cases.yaml``, written for the
project, through the full resolver with its named-entity recognisers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mediawatch.schemas import ActorTag
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.ner import RecogniserPool

FIXTURES = Path(__file__).parent / "fixtures"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "actor_cases.yaml").read_text(encoding="utf-8")
)["cases"]


@pytest.fixture(scope="module")
def resolver() -> ActorResolver:
    return ActorResolver(load_actor_catalogue(), RecogniserPool())


def _text(case: dict[str, Any]) -> tuple[str, str | None]:
    if "file" in case:
        title, _, body = (FIXTURES / case["file"]).read_text(encoding="utf-8").partition("\n")
        return body, title
    return str(case["text"]), None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_actor_case(resolver: ActorResolver, case: dict[str, Any]) -> None:
    text, title = _text(case)
    found: list[ActorTag] = resolver.resolve(text, title=title, language=case["language"])
    for tag in found:
        for mention in tag.mentions:
            field = title if mention.field == "title" else text
            assert field is not None and field[mention.start : mention.end] == mention.text
    actors = {t.actor_id: t for t in found if t.role == "actor"}
    names = {t.name for t in found if t.role == "actor"}
    sources = {t.name for t in found if t.role == "source"}
    for expected in case.get("expect") or []:
        assert expected in actors, f"{expected} missing; found {sorted(actors)}"
    for absent in case.get("absent") or []:
        assert absent not in actors, f"{absent} found: {actors[absent].mentions}"
    for name in case.get("expect_names") or []:
        assert name in names, f"{name!r} missing; found {sorted(names)}"
        tag = next(t for t in found if t.name == name)
        assert tag.in_catalogue is False
        assert tag.actor_id.split(":", 1)[1]
    for name in case.get("absent_names") or []:
        assert name not in names, f"{name!r} found among {sorted(names)}"
    for name in case.get("organisations") or []:
        tag = next((t for t in found if t.name == name), None)
        assert tag is not None and tag.type == "organisation", (name, tag)
    for name in case.get("sources") or []:
        assert name in sources, f"{name!r} not recorded as a source; sources {sorted(sources)}"
        assert name not in names
