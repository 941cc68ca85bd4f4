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


def test_one_name_is_one_actor_whatever_the_recogniser_typed() -> None:
    from mediawatch.tagger.openworld import FoundActor, _one_type_per_name

    found = {
        "person:ahmadu": FoundActor("person:ahmadu", "Ahmadu", "person", False, spans=[
            ("text", 0, 6), ("text", 40, 46), ("text", 90, 96)]),
        "org:ahmadu": FoundActor("org:ahmadu", "Ahmadu", "organisation", False, spans=[
            ("text", 120, 126)]),
        "org:virgin-media": FoundActor("org:virgin-media", "Virgin Media", "organisation",
                                       False, spans=[("text", 200, 212)]),
        "person:virgin": FoundActor("person:virgin", "Virgin", "person", False, spans=[
            ("text", 300, 306)]),
    }  # fmt: skip
    _one_type_per_name(found)
    assert sorted(found) == ["org:virgin-media", "person:ahmadu"]
    assert len(found["person:ahmadu"].spans) == 4
    assert ("text", 300, 306) in found["org:virgin-media"].spans


def test_a_town_that_never_acts_is_no_organisation() -> None:
    from mediawatch.tagger.openworld import FoundActor, _supported

    def org(name: str, text: str) -> bool:
        start = text.index(name)
        entry = FoundActor(
            f"org:{name.lower()}", name, "organisation", False,
            spans=[("text", start, start + len(name))],
        )  # fmt: skip
        return _supported(entry, {"text": text})

    assert not org("Marburg", "Doctors fear the Marburg virus has reached the capital.")
    assert org("Toyota", "Toyota announced a recall of 40,000 cars on Monday.")
    assert not org("Mubi", "Fighters seized control of Mubi last week, witnesses in Mubi said.")


def test_teasers_and_links_to_other_stories_are_masked() -> None:
    from mediawatch.tagger.boilerplate import mask_boilerplate

    text = (
        "Fenwick Hale told the committee the plan was sound.\n"
        "MORE: Orla Dunmore quits the cabinet\n"
        "Tamsin Rook touts pipeline\n"
        "Tamsin Rook touts pipeline\n"
        "Hale said he would return on Monday."
    )
    masked = mask_boilerplate(text)
    assert len(masked) == len(text)
    assert "Fenwick Hale" in masked and "Hale said" in masked
    assert "Orla Dunmore" not in masked and "Tamsin Rook" not in masked


def test_a_russian_name_in_guillemets_keeps_its_closing_one(resolver: ActorResolver) -> None:
    text = "Эксперты клуба «Валдай» обсудили доклад."
    tag = _by_name(resolver.resolve(text, None, "ru"))["Valdai Discussion Club"]
    assert [m.text for m in tag.mentions] == ["клуба «Валдай»"]
