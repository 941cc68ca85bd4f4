"""The inbox: a folder polled for ``.txt``, ``.md``, ``.html`` and ``.json`` articles.

A published (or already known) file moves to ``done/``; a rejected one to ``failed/`` with
``<name>.error`` beside it saying why. Files are moved only after Kafka acknowledged them.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mediawatch.fetcher import metrics
from mediawatch.fetcher.extract import (
    Extracted,
    extract_html,
    parse_markdown,
    parse_plain_text,
)
from mediawatch.fetcher.http_client import decode_body
from mediawatch.fetcher.identity import canonical_url
from mediawatch.fetcher.passes import PassContext, PassResult, tally
from mediawatch.fetcher.publish import Candidate, Outcome, Publisher, RejectedArticle
from mediawatch.fetcher.sources import Source
from mediawatch.schemas import ArticleFetched, Genre, SourceInfo

log = logging.getLogger(__name__)

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".json"})
#: A file younger than this may still be being written; it waits for the next poll.
SETTLE_S = 0.5
MAX_FILE_BYTES = 20 * 1024 * 1024


class InboxSourceMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    outlet_type: str | None = None
    language: str | None = None
    genre: Genre | None = None


class InboxJson(BaseModel):
    """An ArticleFetched-shaped object; ids and hashes are recomputed, never trusted."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1)
    text: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")
    canonical_url: str | None = Field(default=None, pattern=r"^https?://")
    byline: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    genre: Genre | None = None
    source: InboxSourceMeta | None = None


def _title_from_name(path: Path) -> str:
    return " ".join(path.stem.replace("_", " ").replace("-", " ").split()).capitalize()


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    return decode_body(raw)


def candidate_from_file(path: Path, source: SourceInfo) -> Candidate:
    """Read one inbox file into a candidate article; ValueError says why it is rejected."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unsupported file type {suffix!r}; use .txt, .md, .html or .json")
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
    if not raw.strip():
        raise ValueError("the file is empty")
    text = _decode(raw)
    fallback_title = _title_from_name(path)
    extracted: Extracted
    if suffix == ".json":
        return _candidate_from_json(text, source)
    if suffix == ".txt":
        extracted = parse_plain_text(text, fallback_title)
    elif suffix in {".md", ".markdown"}:
        extracted = parse_markdown(text, fallback_title)
    else:
        extracted = extract_html(text, None, min_chars=1)
        if not extracted.text:
            raise ValueError("no article text found in the HTML")
        extracted.title = extracted.title or fallback_title
    url = canonical_url(extracted.canonical) if extracted.canonical else None
    return Candidate.of(source, extracted, url=extracted.canonical, canonical_url=url)


def _candidate_from_json(text: str, source: SourceInfo) -> Candidate:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    major = ArticleFetched.supported_major()
    if version is not None and str(version).split(".")[0] != str(major):
        raise ValueError(
            f"schema_version {version!r} is not supported by this reader (it reads {major}.x)"
        )
    try:
        item = InboxJson.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(object)'}: {e['msg']}" for e in exc.errors()
        ]
        raise ValueError("invalid article: " + "; ".join(problems)) from exc
    meta = item.source
    info = source
    if meta is not None:
        info = source.model_copy(
            update={
                "name": meta.name or source.name,
                "country": meta.country or source.country,
                "outlet_type": meta.outlet_type or source.outlet_type,
                "language": meta.language or source.language,
                "genre": meta.genre or source.genre,
            }
        )
    url = item.canonical_url or item.url
    extracted = Extracted(
        title=item.title,
        text=item.text,
        byline=item.byline,
        published_at=item.published_at,
        language=item.language,
        method="json",
        genre=item.genre,
        genre_from="inbox field" if item.genre else None,
    )
    return Candidate.of(
        info, extracted, url=item.url, canonical_url=canonical_url(url) if url else None
    )


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{int(time.time() * 1000)}{path.suffix}"
    path.replace(target)
    return target


def pending_files(folder: Path) -> list[Path]:
    now = time.time()
    files = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith("~"):
            continue
        if path.suffix.lower() in {".part", ".tmp", ".swp"}:
            continue
        if now - path.stat().st_mtime < SETTLE_S:
            continue
        files.append(path)
    return files


async def process_inbox(source: Source, publisher: Publisher) -> list[Outcome]:
    """One poll of the folder. Kafka failures propagate (the file stays for the next poll)."""
    assert source.path is not None
    folder = source.path
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for path in pending_files(folder):
        extra = {"source_id": source.id, "path": str(path)}
        try:
            candidate = candidate_from_file(path, source.info())
            outcome = await publisher.publish(candidate)
        except (ValueError, RejectedArticle, UnicodeDecodeError) as exc:
            target = _move(path, folder / "failed")
            target.with_name(target.name + ".error").write_text(
                f"{path.name}: rejected: {exc}\n", encoding="utf-8"
            )
            metrics.FETCHES.labels(source.id, "parse_error").inc()
            metrics.REJECTED.labels(source.id, "invalid_file").inc()
            log.warning("inbox file rejected", extra=extra | {"error": str(exc)})
            continue
        metrics.FETCHES.labels(source.id, "ok").inc()
        metrics.FETCHED_BYTES.labels(source.id).inc(path.stat().st_size)
        _move(path, folder / "done")
        outcomes.append(outcome)
        log.info("inbox file done", extra=extra | {"status": outcome.status})
    return outcomes


async def inbox_pass(ctx: PassContext, source: Source) -> PassResult:
    return tally(await process_inbox(source, ctx.publisher))
