"""Russian and French theme variants match every case ending without spelling them out."""

from __future__ import annotations

from pathlib import Path

from mediawatch.query import (
    Document,
    Term,
    ThemeMatcher,
    lemma,
    load_theme_catalogue,
    nominative,
    parse_query,
    stem_query,
)


def test_russian_names_lemmatise_to_their_nominative() -> None:
    for form in ("Путин", "Путина", "Путину", "Путиным"):
        assert lemma(form) == "путин"
    assert lemma("Кремля") == lemma("Кремль") == "кремль"
    assert lemma("Москвы") == "москва"
    assert nominative("Лаптевой", "femn") == "Лаптева"
    assert nominative("Смирновым") == "Смирнов"


def test_query_terms_become_stems_with_a_wildcard() -> None:
    node = stem_query(parse_query('"неделимой безопасности"'), "ru")
    assert isinstance(node, Term)
    assert node.tokens == ("неделим*", "безопасн*")
    french = stem_query(parse_query("sécurité AND indivisible"), "fr")
    assert "secur*" in repr(french)
    assert stem_query(parse_query("security"), "en") == parse_query("security")


def test_a_russian_variant_matches_other_case_endings(tmp_path: Path) -> None:
    path = tmp_path / "themes.yaml"
    path.write_text(
        'version: "1"\nthemes:\n  - id: indivisible\n    label: Indivisible security\n'
        "    query: '\"indivisible security\"'\n    queries:\n"
        "      ru: '\"неделимая безопасность\"'\n"
        "      fr: '\"sécurité indivisible\"'\n",
        encoding="utf-8",
    )
    matcher = ThemeMatcher(load_theme_catalogue(path))
    for text, language in (
        ("Москва настаивает на принципе неделимой безопасности.", "ru"),
        ("Речь шла о неделимости безопасности и о неделимую безопасность.", "ru"),
        ("Paris défend le principe des sécurités indivisibles.", "fr"),
    ):
        tags = matcher.match(Document(text, language=language))
        assert [t.theme_id for t in tags] == ["indivisible"], text
    assert matcher.match(Document("Москва говорит о безопасности.", language="ru")) == []
