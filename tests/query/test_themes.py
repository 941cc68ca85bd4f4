"""The theme catalogue: loading, errors, and the starter catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediawatch.query import (
    Document,
    ThemeCatalogueError,
    ThemeMatcher,
    builtin_themes_file,
    load_theme_catalogue,
)

STARTER = builtin_themes_file()

PARAGRAPH = (
    "Closing the summit, the foreign minister returned to an old idea. “We insist on the "
    "principle of indivisible security,” she told reporters, adding that no state should "
    "strengthen its own security at the expense of its neighbours.\n"
    "Critics said NATO’s eastward expansion was not the only question on the table."
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "themes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_catalogue_loads_with_required_themes() -> None:
    catalogue = load_theme_catalogue(STARTER)
    ids = {t.id for t in catalogue.themes}
    assert {
        "indivisible-security",
        "nato-expansion",
        "war-in-ukraine",
        "multipolar-world",
        "us-primacy-unilateralism",
        "sanctions-decoupling",
        "china-russia-partnership",
        "brics",
        "sco",
        "nuclear-deterrence",
        "helsinki-osce",
        "trade-energy-cooperation",
        "global-south",
    } <= ids
    indivisible = next(t for t in catalogue.themes if t.id == "indivisible-security")
    assert {"ru", "fr"} <= set(indivisible.queries)


def test_starter_catalogue_tags_indivisible_security_with_spans() -> None:
    matcher = ThemeMatcher.from_file(STARTER)
    tags = {t.theme_id: t for t in matcher.match(Document(PARAGRAPH, language="en"))}
    assert "indivisible-security" in tags
    assert "nato-expansion" in tags
    evidence = tags["indivisible-security"].evidence
    assert [ev.text for ev in evidence] == ["principle of indivisible security"]
    ev = evidence[0]
    assert ev.start == PARAGRAPH.index("principle of indivisible security")
    assert PARAGRAPH[ev.start : ev.end] == ev.text
    assert ev.sentence.startswith("“We insist on the principle")
    assert PARAGRAPH[ev.sentence_start : ev.sentence_end] == ev.sentence


def test_starter_catalogue_russian_and_french_variants() -> None:
    matcher = ThemeMatcher.from_file(STARTER)
    ru = "Москва настаивает на принципе неделимости безопасности в Европе."
    tags = {t.theme_id: t for t in matcher.match(Document(ru, language="ru"))}
    assert [ev.text for ev in tags["indivisible-security"].evidence] == ["неделимости безопасности"]
    fr = "Le ministre a défendu l’indivisibilité de la sécurité européenne."
    tags = {t.theme_id: t for t in matcher.match(Document(fr, language="fr"))}
    assert [ev.text for ev in tags["indivisible-security"].evidence] == [
        "indivisibilité de la sécurité"
    ]


def test_starter_sco_is_case_sensitive() -> None:
    matcher = ThemeMatcher.from_file(STARTER)
    assert "sco" in {t.theme_id for t in matcher.match(Document("The SCO met in Astana."))}
    assert "sco" not in {t.theme_id for t in matcher.match(Document("Sco Pharma said."))}


def test_duplicate_id_names_file_theme_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nthemes:\n"
        "  - {id: brics, label: BRICS, query: BRICS}\n"
        "  - {id: brics, label: Again, query: BRICS}\n",
    )
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(path)
    err = info.value
    assert (err.path, err.theme_id, err.field) == (str(path), "brics", "id")
    assert str(path) in str(err) and "'brics'" in str(err) and "'id'" in str(err)


def test_bad_query_names_file_theme_field_and_position(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\nthemes:\n"
        "  - id: nato\n    label: NATO\n    query: NATO\n"
        "    queries:\n      fr: 'OTAN AND élargissement OR adhésion'\n",
    )
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(path)
    err = info.value
    assert (err.theme_id, err.field) == ("nato", "queries.fr")
    assert str(path) in str(err)
    assert "position 23" in str(err)


def test_schema_errors_name_theme_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nthemes:\n  - {id: Bad Id, label: X, query: x}\n")
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(path)
    assert (info.value.theme_id, info.value.field) == ("Bad Id", "id")

    path = write(tmp_path, "version: 1\nthemes:\n  - {id: ok, query: x}\n")
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(path)
    assert (info.value.theme_id, info.value.field) == ("ok", "label")

    path = write(tmp_path, "version: 1\nthemes:\n  - {id: empty, label: Empty}\n")
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(path)
    assert info.value.theme_id == "empty"


def test_unreadable_or_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ThemeCatalogueError) as info:
        load_theme_catalogue(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(info.value)
    with pytest.raises(ThemeCatalogueError):
        load_theme_catalogue(write(tmp_path, "version: [1\n"))
