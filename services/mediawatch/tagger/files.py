"""Read article files for the command line: plain text with the title on the first line,
Markdown, HTML, or an ``ArticleFetched`` JSON object."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mediawatch.schemas import ArticleFetched, ExtractionInfo, SourceInfo


class ArticleFileError(ValueError):
    """A file could not be read as an article; the message names the file and the reason."""


def _plain_article(path: Path, title: str, text: str, method: str) -> ArticleFetched:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ArticleFetched(
        article_id=f"file-{digest[:24]}",
        url=None,
        source=SourceInfo(id="cli", type="inbox", name=path.name),
        title=title,
        fetched_at=datetime.now(UTC),
        text=text,
        content_hash=digest,
        extraction=ExtractionInfo.model_validate({"method": method}),
    )


def read_article(path: Path) -> ArticleFetched:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleFileError(f"{path}: cannot read: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return ArticleFetched.from_json(raw)
        except ValueError as exc:
            raise ArticleFileError(f"{path}: {exc}") from exc
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleFileError(f"{path}: not UTF-8 text ({exc})") from exc
    if suffix in {".html", ".htm"}:
        import trafilatura

        extracted: Any = trafilatura.bare_extraction(content, with_metadata=True)
        body = str(getattr(extracted, "text", None) or "")
        if not body:
            raise ArticleFileError(f"{path}: no article text found in the HTML")
        title = str(getattr(extracted, "title", None) or path.stem)
        return _plain_article(path, title, body, "trafilatura")
    lines = content.lstrip("\ufeff").splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ArticleFileError(f"{path}: the file is empty")
    title = lines[0].strip().lstrip("#").strip()
    body = "\n\n".join(line.strip() for line in lines[1:] if line.strip())
    if not body:
        raise ArticleFileError(f"{path}: only a title line, no text")
    return _plain_article(path, title, body, "markdown" if suffix == ".md" else "plain-text")
