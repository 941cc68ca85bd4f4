"""Search of the archive in the query language of themes and rules.

Two steps, so that a search finds exactly what a theme with the same query would match:

1. :func:`candidate_condition` turns the query's syntax tree into an index condition that
   every article the query matches satisfies (a superset: phrases and NEAR become AND of their
   words, NOT and scopes constrain nothing, a wildcard becomes its prefix). The store renders
   it in its index's syntax and answers it, after its filters.
2. Each candidate is matched by the query library itself (:func:`mediawatch.query.compile_query`
   on the article's text, title and metadata), which also gives the evidence spans.

Pages are cut by a cursor (fetch time, id): a search reads candidates in pages until it has
``limit`` matches, so its cost is bounded by ``max_candidates`` and ``time_limit_s``, not by
the archive's size: a page cut short by either still carries a cursor to go on from.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

from mediawatch.archiver.store import (
    AllOf,
    AnyOf,
    ArchiveStore,
    ArticleFilters,
    Condition,
    Cursor,
    Word,
)
from mediawatch.query import (
    And,
    Document,
    Meta,
    Near,
    Node,
    Not,
    Or,
    QueryIndex,
    Repeat,
    Term,
    parse_query,
)
from mediawatch.schemas import ArticleTagged, Evidence


class SearchError(ValueError):
    """A search that cannot be run: what was wrong, for a 400 answer or a CLI error."""


@dataclass(frozen=True)
class SearchHit:
    article: ArticleTagged
    evidence: list[Evidence]


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit] = field(default_factory=list)
    #: Where the next page starts (an opaque string), or None at the end.
    next_cursor: str | None = None
    #: Candidates the index gave and the query library read, for this page.
    candidates_read: int = 0


def _word(token: str) -> Word | None:
    """The index condition of a normalised query word: itself, or for a wildcard the
    letters before it as a prefix (None when there are none)."""
    cut = min((i for i in (token.find("*"), token.find("?")) if i >= 0), default=-1)
    if cut < 0:
        return Word(token)
    return Word(token[:cut], prefix=True) if cut > 0 else None


def _all(parts: list[Condition]) -> Condition | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def candidate_condition(node: Node) -> Condition | None:
    """An index condition that every article ``node`` matches satisfies; None: no
    constraint (every article is a candidate)."""
    if isinstance(node, Term):
        return _all([w for w in map(_word, node.tokens) if w is not None])
    if isinstance(node, And):
        return _all([p for p in map(candidate_condition, node.children) if p is not None])
    if isinstance(node, Or):
        options = [candidate_condition(c) for c in node.children]
        kept = [o for o in options if o is not None]
        if len(kept) < len(options):
            return None
        return kept[0] if len(kept) == 1 else AnyOf(tuple(kept))
    if isinstance(node, Near):
        return candidate_condition(And((node.left, node.right)))
    if isinstance(node, Repeat):
        return candidate_condition(node.child)
    if isinstance(node, Not | Meta):
        return None
    raise TypeError(f"unknown query node {node!r}")


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([cursor.fetched_at.isoformat(), cursor.article_id, cursor.key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        padded = text + "=" * (-len(text) % 4)
        moment, article_id, key = json.loads(base64.urlsafe_b64decode(padded))
        if key is not None and not isinstance(key, int):
            raise TypeError("the key is not an integer")
        return Cursor(datetime.fromisoformat(moment), str(article_id), key)
    except (ValueError, TypeError) as exc:
        raise SearchError(f"cursor {text[:40]!r} is not one this archive gave out") from exc


def document_of(tagged: ArticleTagged) -> Document:
    """The article as a theme sees it: its text, title and metadata."""
    article = tagged.article
    return Document(
        tagged.text,
        title=article.title,
        language=tagged.language or article.language,
        source_id=article.source.id,
        country=article.source.country,
        outlet_type=article.source.outlet_type,
        genre=article.genre,
    )


def search(
    store: ArchiveStore,
    query: str | None,
    filters: ArticleFilters,
    *,
    limit: int = 50,
    cursor: str | None = None,
    max_candidates: int = 20_000,
    time_limit_s: float = 2.0,
    batch: int = 500,
) -> SearchPage:
    """One page of up to ``limit`` articles matching ``query`` (None or empty: every article
    the filters let through), newest first.

    Raises :class:`SearchError` for a query that does not parse (with its position), a bad
    cursor or limit. At most ``max_candidates`` are read for one page, for at most
    ``time_limit_s`` (a broad query over a large archive); a page cut short by
    that bound still carries a cursor to go on from.
    """
    if not 1 <= limit <= 1000:
        raise SearchError(f"limit must be between 1 and 1000, not {limit}")
    compiled = None
    condition = None
    if query and query.strip():
        try:
            node = parse_query(query)
        except ValueError as exc:  # QuerySyntaxError names the position
            raise SearchError(str(exc)) from exc
        compiled = QueryIndex().compile(node)
        condition = candidate_condition(node)
    after = decode_cursor(cursor) if cursor else None
    hits: list[SearchHit] = []
    read = 0
    deadline = time.monotonic() + time_limit_s
    # Small reads first: a selective page ends after a few candidates, a broad one grows.
    size = min(batch, max(20, 2 * limit))
    while True:
        chunk = store.candidates(condition, filters, after=after, limit=size)
        size = min(batch, size * 2)
        for stored in chunk.articles:
            read += 1
            after = stored.cursor()
            tagged = stored.load()
            if compiled is None:
                hits.append(SearchHit(tagged, []))
            else:
                result = compiled.evaluate(document_of(tagged))
                if result.matched:
                    evidence = [e.shifted(tagged.text_start) for e in result.evidence]
                    hits.append(SearchHit(tagged, evidence))
            if len(hits) == limit or read >= max_candidates or time.monotonic() > deadline:
                more = chunk.more or stored is not chunk.articles[-1]
                next_cursor = encode_cursor(after) if more else None
                return SearchPage(hits, next_cursor, read)
        if not chunk.more:
            return SearchPage(hits, None, read)
