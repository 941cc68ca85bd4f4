"""Open-world details through the full resolver: role nouns, typos, sources and bylines, on
texts written for these tests; and `mediawatch tag` on the Russian and French articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediawatch.cli.main import app
from mediawatch.schemas import ActorTag
from mediawatch.tagger.actors import ActorResolver, load_actor_catalogue
from mediawatch.tagger.ner import RecogniserPool

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def resolver() -> ActorResolver:
    return ActorResolver(load_actor_catalogue(), RecogniserPool())


def _by_name(found: list[ActorTag]) -> dict[str, ActorTag]:
    return {tag.name: tag for tag in found}


def test_the_senator_joins_the_one_senator(resolver: ActorResolver) -> None:
    text = (
        "Senator Dana Whitcombe said on Monday that the bill would pass. Later the senator "
        "added that the vote would be close."
    )
    tag = _by_name(resolver.resolve(text))["Dana Whitcombe"]
    assert [m.text for m in tag.mentions] == ["Dana Whitcombe", "senator"]
    two = "Senator Dana Whitcombe and Senator Oren Blaise disagreed. The senator from Ohio left."
    names = _by_name(resolver.resolve(two))
    assert all("senator" not in [m.text for m in t.mentions] for t in names.values())


def test_typos_of_catalogue_names_resolve_to_them(resolver: ActorResolver) -> None:
    found = {t.actor_id for t in resolver.resolve("Sergei Lavorv met reporters in Geneva.")}
    assert "person:sergey-lavrov" in found
    assert not any(a.startswith("person:sergei") for a in found)


def test_outlets_cited_and_bylines_are_sources(resolver: ActorResolver) -> None:
    text = (
        "MOSCOW (Reuters) - The Kremlin said on Tuesday it would respond, according to "
        "TASS. Ivan Petrenko told the BBC he expected new sanctions.\n\n"
        "Reporting by Maria Lindholm; Editing by Tom Avery"
    )
    found = resolver.resolve(text)
    roles = {t.name: t.role for t in found}
    for outlet in ("Reuters", "BBC"):
        assert roles.get(outlet) == "source", roles
    assert roles.get("Maria Lindholm") == "source"
    assert roles.get("Ivan Petrenko") == "actor"
    assert "state:ru" in {t.actor_id for t in found if t.role == "actor"}


@pytest.mark.parametrize(("name", "language"), [("article-ru.txt", "ru"), ("article-fr.txt", "fr")])
def test_tag_lists_canonical_ids_in_russian_and_french(name: str, language: str) -> None:
    result = CliRunner().invoke(app, ["tag", "--json", str(FIXTURES / name)])
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout)
    assert event["language"] == language
    ids = {a["actor_id"] for a in event["actors"]}
    assert {
        "person:vladimir-putin", "state:ru", "org:nato", "person:sergey-lavrov", "state:cn",
        "person:xi-jinping", "state:us", "org:eu",
    } <= ids  # fmt: skip


def test_outlets_the_list_lacks_are_sources_by_their_shape(resolver: ActorResolver) -> None:
    text = (
        "The council was warned in March, according to the Kirkby Examiner. The "
        "Environmental Protection Agency said it would review the permit."
    )
    roles = {t.name: t.role for t in resolver.resolve(text)}
    assert roles.get("Kirkby Examiner") == "source", roles
    assert roles.get("Environmental Protection Agency") == "actor", roles
