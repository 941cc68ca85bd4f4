"""Actor catalogue and resolver. Every article text here is written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediawatch.schemas import ActorTag
from mediawatch.tagger.actors import (
    ActorCatalogue,
    ActorCatalogueError,
    ActorResolver,
    load_actor_catalogue,
)


@pytest.fixture(scope="module")
def catalogue() -> ActorCatalogue:
    return load_actor_catalogue()


@pytest.fixture(scope="module")
def resolver(catalogue: ActorCatalogue) -> ActorResolver:
    return ActorResolver(catalogue)


def tags(resolver: ActorResolver, text: str) -> dict[str, ActorTag]:
    found = resolver.resolve(text)
    for tag in found:
        for mention in tag.mentions:
            assert text[mention.start : mention.end] == mention.text
    return {tag.actor_id: tag for tag in found}


def mentions(resolver: ActorResolver, text: str, actor_id: str) -> list[str]:
    tag = tags(resolver, text).get(actor_id)
    return [] if tag is None else [m.text for m in tag.mentions]


# ------------------------------------------------------------------ catalogue


def test_default_catalogue_is_versioned_and_has_every_iso_state(catalogue: ActorCatalogue) -> None:
    assert catalogue.version
    states = [a for a in catalogue if a.type == "state"]
    assert len(states) >= 249
    russia = catalogue["state:ru"]
    assert russia.name == "Russia"
    assert russia.wikidata == "Q159"
    assert russia.alpha3 == "RUS"
    assert "Russian Federation" in russia.aliases
    assert "Russians" in russia.demonyms
    assert catalogue["state:kr"].name == "South Korea"


def test_every_curated_state_has_a_qid(catalogue: ActorCatalogue) -> None:
    curated = [a for a in catalogue if a.type == "state" and a.curated]
    assert len(curated) >= 25
    assert [a.id for a in curated if not a.wikidata] == []


def test_required_people_organisations_and_treaties_are_curated(catalogue: ActorCatalogue) -> None:
    for actor_id in (
        "person:vladimir-putin",
        "person:xi-jinping",
        "person:sergey-lavrov",
        "person:wang-yi",
        "person:donald-trump",
        "person:joe-biden",
        "person:antony-blinken",
        "person:marco-rubio",
        "person:emmanuel-macron",
        "person:keir-starmer",
        "person:olaf-scholz",
        "person:friedrich-merz",
        "person:narendra-modi",
        "person:lula",
        "person:volodymyr-zelensky",
        "person:recep-tayyip-erdogan",
        "person:ursula-von-der-leyen",
        "person:mark-rutte",
        "person:jens-stoltenberg",
        "person:antonio-guterres",
        "person:rafael-grossi",
        "org:nato",
        "org:eu",
        "org:un",
        "org:osce",
        "org:brics",
        "org:sco",
        "org:csto",
        "org:g7",
        "org:g20",
        "org:iaea",
        "org:wto",
        "org:imf",
        "treaty:helsinki-final-act",
        "treaty:new-start",
        "treaty:inf",
        "treaty:un-charter",
    ):
        assert actor_id in catalogue, actor_id


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "actors.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "actor", "field"),
    [
        (
            'version: "1"\nactors:\n  - {id: "person:a-b", name: A B, type: person,'
            " wikidata: X1}\n",
            "person:a-b",
            "wikidata",
        ),
        (
            'version: "1"\nactors:\n  - {id: "person:a-b", name: A B, type: human}\n',
            "person:a-b",
            "type",
        ),
        (
            'version: "1"\nactors:\n  - {id: "org:a", name: A, type: person}\n',
            "org:a",
            "id",
        ),
        (
            'version: "1"\nactors:\n  - {id: "Person A", name: A, type: person}\n',
            "Person A",
            "id",
        ),
        (
            'version: "1"\nactors:\n  - {id: "org:a", type: organisation}\n',
            "org:a",
            "name",
        ),
        (
            'version: "1"\nactors:\n  - {id: "org:a", name: A, type: bloc, colour: red}\n',
            "org:a",
            "colour",
        ),
        (
            'version: "1"\nactors:\n  - {id: "org:a", name: A, type: bloc}\n'
            '  - {id: "org:a", name: B, type: bloc}\n',
            "org:a",
            "id",
        ),
        (
            'version: "1"\nactors:\n  - {id: "org:a", name: A, type: bloc, aliases: [AB]}\n'
            '  - {id: "org:b", name: B, type: bloc, aliases: [AB]}\n',
            "org:b",
            "aliases",
        ),
        (
            'version: "1"\nactors:\n  - {id: "person:a", name: A, type: person,'
            " weak_context: [gut]}\n",
            "person:a",
            "weak_context",
        ),
    ],
)
def test_catalogue_errors_name_file_actor_and_field(
    tmp_path: Path, body: str, actor: str, field: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ActorCatalogueError) as info:
        load_actor_catalogue(path)
    message = str(info.value)
    assert str(path) in message
    assert repr(actor) in message
    assert repr(field) in message


def test_catalogue_needs_a_version(tmp_path: Path) -> None:
    path = write(tmp_path, "actors: []\n")
    with pytest.raises(ActorCatalogueError, match="'version'") as info:
        load_actor_catalogue(path)
    assert str(path) in str(info.value)


def test_catalogue_error_is_a_value_error_and_reports_bad_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "version: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_actor_catalogue(path)


def test_small_catalogue_still_merges_all_states(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'version: "7"\nactors:\n  - {id: "org:acme-pact", name: Acme Pact, type: bloc}\n',
    )
    catalogue = load_actor_catalogue(path)
    assert catalogue.version.endswith("+7")
    assert "state:fr" in catalogue
    found = tags(ActorResolver(catalogue), "The Acme Pact met in Lyon; France sent a delegate.")
    assert set(found) == {"org:acme-pact", "state:fr"}


# ------------------------------------------------------------------ resolver: people


def test_putin_in_all_forms(resolver: ActorResolver) -> None:
    text = (
        "Vladimir Putin opened the forum. Later President Putin spoke again, and Putin's "
        "aides said the Kremlin was satisfied."
    )
    found = tags(resolver, text)
    assert [m.text for m in found["person:vladimir-putin"].mentions] == [
        "Vladimir Putin",
        "Putin",
        "Putin",
    ]
    assert [m.text for m in found["state:ru"].mentions] == ["Kremlin"]
    assert found["person:vladimir-putin"].wikidata == "Q7747"


def test_xi_needs_full_name_title_or_china(resolver: ActorResolver) -> None:
    with_title = "President Xi met the delegation."
    assert mentions(resolver, with_title, "person:xi-jinping") == ["Xi"]
    with_full_name = "Xi Jinping arrived on Monday. Xi then left for the airport."
    assert mentions(resolver, with_full_name, "person:xi-jinping") == ["Xi Jinping", "Xi"]
    with_country = "China hosted the summit, and Xi greeted each guest."
    assert mentions(resolver, with_country, "person:xi-jinping") == ["Xi"]
    bare = "The fraternity chose Xi as the letter for its new chapter."
    assert "person:xi-jinping" not in tags(resolver, bare)
    lower = "China hosted the summit; the xi symbol appears on the banner."
    assert "person:xi-jinping" not in tags(resolver, lower)
    city = "China hosted the summit in Xi'an this year."
    assert "person:xi-jinping" not in tags(resolver, city)


def test_may_needs_theresa_or_a_title(resolver: ActorResolver) -> None:
    assert mentions(resolver, "Prime Minister May met the cabinet.", "person:theresa-may") == [
        "May"
    ]
    text = "Theresa May resigned. Critics said May had run out of options."
    assert mentions(resolver, text, "person:theresa-may") == ["Theresa May", "May"]
    for negative in (
        "The vote was held in May and the results came on May 16.",
        "Britain may leave. May brought rain to London.",
        "Theresa May spoke in May 2019 to the party.",
    ):
        assert mentions(resolver, negative, "person:theresa-may") in ([], ["Theresa May"])


def test_cited_people_outside_the_catalogue(resolver: ActorResolver) -> None:
    text = (
        "The talks stalled again. As Miriam Okafor put it, nobody wanted to blink first. "
        "Tomas Lindqvist, a senior fellow at a Nordic think tank, argued that the deal was "
        "dead. According to Hana Petrova, the sanctions had worked. Okafor said later that "
        "she had been too pessimistic, and Lindqvist agreed. As Grotius argued centuries ago, "
        'treaties bind the strong as well as the weak. "It is over," said Paul Mercer, a '
        "professor at a Scottish university. The old rule, wrote the jurist Emer de Vattel, "
        "protects the balance. Vattel also warned against hegemony."
    )
    found = tags(resolver, text)
    people = {k: v for k, v in found.items() if not v.in_catalogue}
    assert set(people) == {
        "person:miriam-okafor",
        "person:tomas-lindqvist",
        "person:hana-petrova",
        "person:grotius",
        "person:paul-mercer",
        "person:emer-de-vattel",
    }
    assert [m.text for m in people["person:miriam-okafor"].mentions] == ["Miriam Okafor", "Okafor"]
    assert [m.text for m in people["person:tomas-lindqvist"].mentions] == [
        "Tomas Lindqvist",
        "Lindqvist",
    ]
    assert [m.text for m in people["person:emer-de-vattel"].mentions] == [
        "Emer de Vattel",
        "Vattel",
    ]
    for tag in people.values():
        assert tag.type == "person"
        assert tag.wikidata is None


def test_catalogue_people_are_not_duplicated_as_cited_people(resolver: ActorResolver) -> None:
    text = "As President Putin said, the order is changing. Sergey Lavrov, the minister, agreed."
    found = tags(resolver, text)
    assert {k for k, v in found.items() if not v.in_catalogue} == set()
    assert {"person:vladimir-putin", "person:sergey-lavrov"} <= set(found)


def test_no_false_positives_on_sentence_initial_words(resolver: ActorResolver) -> None:
    text = (
        "Analysts said the plan would fail. Officials argued otherwise. Monday brought more "
        "news. Critics noted the delay. The White House said nothing. Reuters reported the "
        "vote. Observers, a group of retired diplomats, said the plan was sound. European "
        "leaders said little. The Associated Press reported it first. Nevertheless, the "
        "Foreign Ministry said it would respond."
    )
    found = tags(resolver, text)
    assert {k for k, v in found.items() if not v.in_catalogue and v.role == "actor"} == set()
    assert "state:us" in found  # the White House
    # The outlets cited are recorded, as sources only.
    assert {k for k, v in found.items() if v.role == "source"} == {
        "org:reuters",
        "org:associated-press",
    }


# ------------------------------------------------------------------ resolver: places and states


def test_capital_as_government_but_not_as_place(resolver: ActorResolver) -> None:
    assert mentions(resolver, "Moscow insists that the talks continue.", "state:ru") == ["Moscow"]
    assert mentions(resolver, "Moscow's position has not changed.", "state:ru") == ["Moscow"]
    assert mentions(resolver, "Moscow and Beijing signed a statement.", "state:cn") == ["Beijing"]
    assert mentions(resolver, "Moscow and Beijing signed a statement.", "state:ru") == ["Moscow"]
    assert mentions(resolver, "A rift between Washington and Kyiv grew.", "state:ua") == ["Kyiv"]
    assert mentions(resolver, "London has warned Paris.", "state:gb") == ["London"]
    assert mentions(resolver, "Brussels wants more time.", "org:eu") == ["Brussels"]
    for place in (
        "He lives in Moscow with his family.",
        "The delegation flew to Moscow on Tuesday.",
        "She studied at Moscow State University.",
        "Snow fell on the streets of Moscow.",
        "A conference in Moscow and Beijing drew crowds.",
        "He moved back to Kiev last year.",
    ):
        found = tags(resolver, place)
        assert "state:ru" not in found and "state:cn" not in found, place
        assert "state:ua" not in found, place


def test_paris_washington_and_names_that_contain_them(resolver: ActorResolver) -> None:
    assert "state:fr" not in tags(resolver, "Paris Hilton arrived at the party.")
    assert "state:fr" not in tags(resolver, "The Paris Club met on debt relief.")
    assert "state:fr" not in tags(resolver, "Spring in Paris is lovely.")
    assert mentions(resolver, "Paris rejected the proposal.", "state:fr") == ["Paris"]
    assert "state:us" not in tags(resolver, "The Washington Post ran the story.")
    assert "state:us" not in tags(resolver, "A statue of George Washington stands here.")
    assert mentions(resolver, "Washington said it would respond.", "state:us") == ["Washington"]


def test_us_is_case_sensitive(resolver: ActorResolver) -> None:
    assert mentions(resolver, "The US and the U.S.A. are the same.", "state:us") == ["US", "U.S.A."]
    assert "state:us" not in tags(resolver, "Tell us what you think; join us.")
    assert "state:us" not in tags(resolver, "PLEASE LET US KNOW")
    assert "state:us" not in tags(resolver, "It cost US$5 million.")
    assert mentions(resolver, "The SCO met; the EU and the UN watched.", "org:sco") == ["SCO"]
    assert "org:eu" not in tags(resolver, "the eu in the word eureka")


def test_demonyms_name_the_state_only_for_its_government(resolver: ActorResolver) -> None:
    text = "Russian officials and the Americans said no; British and French diplomats joined."
    found = tags(resolver, text)
    assert [m.text for m in found["state:ru"].mentions] == ["Russian"]
    assert [m.text for m in found["state:us"].mentions] == ["Americans"]
    assert [m.text for m in found["state:gb"].mentions] == ["British"]
    assert [m.text for m in found["state:fr"].mentions] == ["French"]
    assert "state:us" not in tags(resolver, "Latin American markets rallied.")
    for private in (
        "Russian tourists filled the beaches.",
        "He bought a Russian-made rifle.",
        "Chinese food is popular in Lyon.",
        "Americans love football.",
    ):
        assert not {"state:ru", "state:cn", "state:us"} & set(tags(resolver, private)), private


def test_state_names_aliases_and_longest_match(resolver: ActorResolver) -> None:
    text = (
        "The Russian Federation, the UK, Britain and the People's Republic of China spoke; "
        "South Sudan did not, nor did New Mexico."
    )
    found = tags(resolver, text)
    assert [m.text for m in found["state:ru"].mentions] == ["Russian Federation"]
    assert [m.text for m in found["state:gb"].mentions] == ["UK", "Britain"]
    assert [m.text for m in found["state:cn"].mentions] == ["People's Republic of China"]
    assert "state:ss" in found and "state:sd" not in found
    assert "state:mx" not in found


def test_name_like_states(resolver: ActorResolver) -> None:
    assert "state:jo" not in tags(resolver, "The author Jordan Blake signed books.")
    assert mentions(resolver, "Jordan closed its border.", "state:jo") == ["Jordan"]


def test_organisations_and_treaties(resolver: ActorResolver) -> None:
    text = (
        "NATO and the North Atlantic Treaty Organization are one; the Shanghai Cooperation "
        "Organization and the CSTO met, citing the UN Charter, the Helsinki Final Act, the "
        "New START treaty and the INF Treaty. The IAEA, the WTO and the IMF said nothing."
    )
    found = tags(resolver, text)
    assert [m.text for m in found["org:nato"].mentions] == [
        "NATO",
        "North Atlantic Treaty Organization",
    ]
    for actor_id in (
        "org:sco",
        "org:csto",
        "treaty:un-charter",
        "treaty:helsinki-final-act",
        "treaty:new-start",
        "treaty:inf",
        "org:iaea",
        "org:wto",
        "org:imf",
    ):
        assert actor_id in found, actor_id
    assert "org:un" not in found  # "UN Charter" is the treaty, not the organisation


def test_output_sorted_by_first_mention_with_exact_spans(resolver: ActorResolver) -> None:
    text = "Ukraine asked NATO for help. Zelensky met Macron; Ukraine's allies listened."
    found = resolver.resolve(text)
    assert [t.actor_id for t in found] == [
        "state:ua",
        "org:nato",
        "person:volodymyr-zelensky",
        "person:emmanuel-macron",
    ]
    for tag in found:
        for m in tag.mentions:
            assert text[m.start : m.end] == m.text
            assert m.sentence == "" and m.field == "text"
        assert [m.start for m in tag.mentions] == sorted(m.start for m in tag.mentions)


def test_title_mentions_refer_to_the_title(resolver: ActorResolver) -> None:
    title = "Putin visits China"
    text = "The Russian leader arrived on Tuesday."
    found = {t.actor_id: t for t in resolver.resolve(text, title=title)}
    putin = found["person:vladimir-putin"].mentions[0]
    assert (putin.field, title[putin.start : putin.end]) == ("title", "Putin")
    assert [m.field for m in found["state:ru"].mentions] == ["text"]


def test_empty_and_plain_text(resolver: ActorResolver) -> None:
    assert resolver.resolve("") == []
    assert resolver.resolve("nothing to see here, just lower-case words.") == []


def test_an_abbreviated_state_as_an_attribute_is_not_the_state(resolver: ActorResolver) -> None:
    assert "state:us" not in tags(resolver, "The US website Tribune Daily ran the claim.")
    assert "state:us" not in tags(resolver, "The US Vogue offices are moving downtown.")
    assert "state:ma" not in tags(resolver, "A Moroccan military expert said the plan was sound.")
    assert "state:us" in tags(resolver, "The US Army and US officials said nothing.")
    assert "state:us" in tags(resolver, "The US did not take part in the march.")
