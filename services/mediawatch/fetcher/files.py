"""Read one article file exactly as the inbox reads it, for ``mediawatch tag`` and ``match``: plain
text with the title on the first line, Markdown, HTML, or an ``ArticleFetched`` JSON object.

Sharing the inbox's reader means ``mediawatch tag FILE`` sees the same title, text and
offsets as the stream does when the same file is dropped into the inbox.
"""

from __future__ import annotations

from pathlib import Path

from mediawatch.fetcher.inbox import candidate_from_file
from mediawatch.fetcher.publish import RejectedArticle, build_event
from mediawatch.schemas import ArticleFetched, SourceInfo


class ArticleFileError(ValueError):
    """A file could not be read as an article; the message names the file and the reason."""


def read_article(path: Path) -> ArticleFetched:
    source = SourceInfo(id="cli", type="inbox", name=path.name)
    try:
        event, _ = build_event(candidate_from_file(path, source))
    except OSError as exc:
        raise ArticleFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except (ValueError, RejectedArticle) as exc:
        raise ArticleFileError(f"{path}: {exc}") from exc
    return event
