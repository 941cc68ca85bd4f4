"""Main text and metadata of an article: trafilatura first, simpler fallbacks that say why.

Also the parsers of plain text and Markdown files (inbox) and of feed-entry HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Literal

import trafilatura

from mediawatch.fetcher.genre import genre_of_json_ld, genre_of_labels
from mediawatch.fetcher.identity import normalise_text
from mediawatch.query import sentence_spans
from mediawatch.schemas.events import Genre

Method = Literal["trafilatura", "feed-entry", "plain-text", "markdown", "html", "json"]


@dataclass
class Extracted:
    title: str
    text: str
    byline: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    canonical: str | None = None
    method: Method = "trafilatura"
    fallback_reason: str | None = None
    genre: Genre | None = None
    genre_from: str | None = None


#: <meta> names and properties that carry the page's section.
_SECTION_META = frozenset({"article:section", "section", "parsely-section", "sailthru.section"})


class _HeadScanner(HTMLParser):
    """Picks <html lang>, <link rel=canonical>, <title>, <p> text, the section <meta> tags and
    the JSON-LD blocks out of a page."""

    _SKIP = frozenset({"script", "style", "nav", "footer", "header", "aside", "noscript", "form"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.canonical: str | None = None
        self.title = ""
        self.paragraphs: list[str] = []
        self.sections: list[str] = []
        self.json_ld: list[str] = []
        self._json_ld: list[str] | None = None
        self._in_title = False
        self._skip_depth = 0
        self._paragraph: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "html" and values.get("lang"):
            self.lang = values["lang"]
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = self.canonical or values.get("href") or None
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key in _SECTION_META and values.get("content"):
                self.sections.append(values["content"])
        elif tag == "script" and values.get("type", "").lower() == "application/ld+json":
            self._json_ld = []
            self._skip_depth += 1
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "p" and self._skip_depth == 0:
            self._paragraph = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._json_ld is not None:
            self.json_ld.append("".join(self._json_ld))
            self._json_ld = None
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "p" and self._paragraph is not None:
            text = " ".join("".join(self._paragraph).split())
            if text:
                self.paragraphs.append(text)
            self._paragraph = None

    def handle_data(self, data: str) -> None:
        if self._json_ld is not None:
            self._json_ld.append(data)
        elif self._in_title:
            self.title += data
        elif self._paragraph is not None:
            self._paragraph.append(data)


def scan_html(html: str) -> _HeadScanner:
    scanner = _HeadScanner()
    try:
        scanner.feed(html)
        scanner.close()
    except AssertionError:  # pragma: no cover - html.parser gives up on very broken markup
        pass
    return scanner


def _language(code: str | None) -> str | None:
    if not code:
        return None
    primary = code.strip().split("-")[0].split("_")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _drop_title_line(text: str, title: str) -> str:
    lines = text.split("\n")
    if title and lines and lines[0].strip() == title.strip():
        lines = lines[1:]
    return "\n".join(lines)


def page_genre(scanner: _HeadScanner) -> tuple[Genre | None, str | None]:
    """The genre the page declares: its schema.org type first, then its section."""
    found = genre_of_json_ld(scanner.json_ld) or genre_of_labels(scanner.sections, "section")
    return found if found is not None else (None, None)


def extract_html(html: str, url: str | None = None, *, min_chars: int = 200) -> Extracted:
    """Article text of a page. Falls back to the page's <p> elements (``method='html'``)
    when trafilatura finds nothing or too little, saying so in ``fallback_reason``."""
    scanner = scan_html(html)
    genre, genre_from = page_genre(scanner)
    reason: str | None = None
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            deduplicate=False,
        )
    except Exception as exc:  # trafilatura raises assorted errors on odd markup
        document, reason = None, f"trafilatura failed: {type(exc).__name__}: {exc}"
    if document is not None and not isinstance(document, dict):
        title = (document.title or scanner.title or "").strip()
        text = normalise_text(_drop_title_line(document.text or "", title))
        if len(text) >= min_chars or (text and not scanner.paragraphs):
            return Extracted(
                title=title,
                text=text,
                byline=document.author or None,
                published_at=_date(document.date),
                language=_language(document.language) or _language(scanner.lang),
                canonical=scanner.canonical,
                genre=genre,
                genre_from=genre_from,
            )
        reason = f"trafilatura extracted only {len(text)} characters"
    elif reason is None:
        reason = "trafilatura found no main text"
    text = normalise_text("\n".join(scanner.paragraphs))
    return Extracted(
        title=" ".join(scanner.title.split()),
        text=text,
        language=_language(scanner.lang),
        canonical=scanner.canonical,
        method="html",
        fallback_reason=reason,
        genre=genre,
        genre_from=genre_from,
    )


_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote)>|<br\s*/?>", re.I)


def html_fragment_text(fragment: str) -> str:
    """Text of a small HTML fragment (a feed entry's content), block elements as paragraphs."""
    text = _BLOCK_END.sub("\n", fragment)
    text = unescape(_TAG.sub("", text))
    return normalise_text(text)


def looks_like_title(line: str) -> bool:
    """A first line that is a headline rather than a paragraph: short, no final full stop."""
    line = line.strip()
    return 0 < len(line) <= 200 and not (len(line) > 120 and line.endswith((".", "!", "?")))


def headline_of(paragraph: str, limit: int = 200) -> str:
    """A title made from a paragraph: its first sentence (as the tagger splits them, so
    "Mr. Smith" does not end it), cut at a word before ``limit``."""
    spans = sentence_spans(paragraph)
    sentence = (paragraph[spans[0][0] : spans[0][1]] if spans else paragraph).strip()
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def parse_plain_text(text: str, fallback_title: str) -> Extracted:
    """``.txt``: the first line is the title when it looks like one; every other non-empty
    line is a paragraph (a blank line between paragraphs is allowed too)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("the file is empty")
    reason = None
    if len(lines) > 1 and looks_like_title(lines[0]):
        title, body = lines[0], lines[1:]
    elif len(lines) > 1:
        title, body = headline_of(lines[0]), lines
        reason = (
            "first line is a paragraph, not a headline: the title is its first sentence and "
            "the paragraph stays in the text"
        )
    else:
        title, body = fallback_title, lines
        reason = "a single paragraph: title taken from the file name"
    return Extracted(
        title=title, text=normalise_text("\n".join(body)), method="plain-text",
        fallback_reason=reason,
    )  # fmt: skip


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(\S(?:.*?\S)?)\1")


def _md_inline(line: str) -> str:
    line = _MD_LINK.sub(lambda m: "" if m.group(0).startswith("!") else m.group(1), line)
    return _MD_EMPHASIS.sub(r"\2", line)


def parse_markdown(text: str, fallback_title: str) -> Extracted:
    """``.md``: the first heading (or first line) is the title; blocks are paragraphs."""
    title = ""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if not line or heading or re.fullmatch(r"[-*_]{3,}|```.*", line):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if heading:
                if not title:
                    title = _md_inline(heading.group(1))
                else:
                    paragraphs.append(_md_inline(heading.group(1)))
            continue
        line = re.sub(r"^(>\s*|[-*+]\s+|\d+[.)]\s+)", "", line)
        current.append(_md_inline(line))
    if current:
        paragraphs.append(" ".join(current))
    if not paragraphs and not title:
        raise ValueError("the file is empty")
    reason = None
    if not title:
        if len(paragraphs) > 1 and looks_like_title(paragraphs[0]):
            title = paragraphs.pop(0)
        else:
            title = fallback_title
            reason = "no heading: title taken from the file name"
    return Extracted(
        title=title, text=normalise_text("\n".join(paragraphs)), method="markdown",
        fallback_reason=reason,
    )  # fmt: skip
