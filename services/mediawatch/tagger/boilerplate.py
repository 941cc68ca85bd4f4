"""Page furniture that extraction left in an article: "RELATED" and "MORE STORIES" blocks of
other stories' headlines, sponsor lines.

Their names belong to other stories, so the actor stage reads the text with these blocks
blanked out (each character a space, newlines kept): offsets stay those of the original text.
"""

from __future__ import annotations

import re

__all__ = ["mask_boilerplate"]

_MARKER = re.compile(
    r"^[ \t]*(?:related(?:\s+(?:stories|articles|content|coverage|news|links))?|more\s+stories|"
    r"more\s+from\s+[^\n]{0,40}|read\s+more|see\s+also|you\s+may\s+also\s+like|recommended|"
    r"trending(?:\s+now)?|most\s+(?:read|popular)|sponsored(?:\s+by\s+[^\n]{0,40})?)"
    r"[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: "MORE: Google thinks ...": one line linking another story.
_LINK_LINE = re.compile(
    r"^[ \t]*(?:MORE|RELATED|READ MORE|SEE ALSO|WATCH)[ \t]*:[^\n]*$", re.MULTILINE
)
_BLOCK_LINES = 24
_PARAGRAPH_CHARS = 250
_SENTENCE_CHARS = 140


def mask_boilerplate(text: str) -> str:
    """``text`` with each furniture block blanked: a marker line and the short lines after
    it, up to the next real paragraph (a line of over 250 characters, or over 140 that ends
    a sentence) or 24 lines; a line that links another story ("MORE: ..."); a short line
    printed twice in a row (a teaser's headline and its image caption)."""
    if "\n" not in text:
        return text
    spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in _LINK_LINE.finditer(text)]
    spans += _repeated_lines(text)
    for marker in _MARKER.finditer(text):
        start = marker.start()
        position = marker.end()
        lines = 0
        while position < len(text) and lines < _BLOCK_LINES:
            end = text.find("\n", position + 1)
            end = len(text) if end < 0 else end
            line = text[position:end].strip()
            if len(line) > _PARAGRAPH_CHARS or (
                len(line) > _SENTENCE_CHARS and line.endswith((".", "!", "?", '"', "”"))
            ):
                break  # the story again: a paragraph, not another story's headline
            if line:
                lines += 1
            position = end
        spans.append((start, position))
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def _repeated_lines(text: str) -> list[tuple[int, int]]:
    """Both copies of a short line that the next line repeats exactly."""
    spans: list[tuple[int, int]] = []
    position = 0
    previous: tuple[int, str] | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if (
            previous is not None
            and stripped
            and stripped == previous[1]
            and len(stripped) <= _SENTENCE_CHARS
        ):
            spans.append((previous[0], position + len(line)))
        previous = (position, stripped)
        position += len(line) + 1
    return spans
