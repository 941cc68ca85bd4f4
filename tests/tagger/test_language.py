"""Language identification: short texts, and a declared language that the text contradicts."""

from __future__ import annotations

import pytest

from mediawatch.tagger.language import detect_language, resolve_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Putin arrives in Beijing. The Russian president met Xi Jinping on Tuesday.", "en"),
        ("Путин прибыл в Пекин. Президент России встретился с Си Цзиньпином.", "ru"),
        ("Poutine à Pékin. Le président russe a rencontré Xi Jinping mardi.", "fr"),
        ("Der Kanzler reist nach Peking. Er trifft dort den Präsidenten.", "de"),
        ("Україна не поступиться територією, заявив Зеленський у понеділок.", "uk"),
    ],
)
def test_a_headline_and_one_sentence_are_enough(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_too_little_text_has_no_language() -> None:
    assert detect_language("") is None
    assert detect_language("42") is None


def test_the_text_overrides_a_declared_language_it_contradicts() -> None:
    russian = "Министр иностранных дел России Сергей Лавров заявил, что Москва готова к диалогу."
    assert resolve_language("en", russian) == "ru"
    assert resolve_language("en-GB", "The minister said Moscow was ready to talk.") == "en"


def test_the_declared_language_decides_when_the_text_is_unclear() -> None:
    assert resolve_language("fr", "OTAN, ONU") == "fr"
    assert resolve_language(None, "") is None
