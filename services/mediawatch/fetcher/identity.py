"""Who an article is: canonical URL, article id, content hash and a 64-bit SimHash."""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from collections import Counter
from hashlib import blake2b
from operator import itemgetter
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

#: Query parameters that only track the reader and never change the article.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "wickedid", "ref_src", "cmpid", "ocid", "sr_share", "at_medium",
        "at_campaign", "ito", "ncid", "soc_src", "soc_trk", "spm", "s_cid", "icid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, *, canonical_hint: str | None = None) -> str:
    """The normalised form of ``url``, or of ``canonical_hint`` (a page's rel=canonical,
    resolved against ``url``) when that is an http(s) URL."""
    if canonical_hint:
        resolved = urljoin(url, canonical_hint.strip())
        if urlsplit(resolved).scheme in _DEFAULT_PORTS:
            url = resolved
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii") if host else host
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = quote(unquote(parts.path or "/"), safe="/:@!$&'()*+,;=~-._%")
    path = re.sub(r"/{2,}", "/", path)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def article_id_for_url(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def article_id_for_content(content_hash: str) -> str:
    """Id of an article without a URL (inbox, push): derived from its content hash."""
    return "c" + content_hash[:23]


def normalise_text(text: str) -> str:
    """NFC, unified spaces and line ends, paragraphs separated by one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return "\n\n".join(p for p in paragraphs if p)


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the normalised text, so whitespace changes do not count."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


#: Per bit of a byte, a getter of the byte values that have that bit set.
_BYTES_WITH_BIT = [itemgetter(*[b for b in range(256) if b >> bit & 1]) for bit in range(8)]


def simhash(text: str, shingle: int = 3) -> int:
    """64-bit SimHash over word shingles of the case-folded text: bit i is set when more
    than half of the shingles' 64-bit BLAKE2b hashes (big-endian) have bit i set.

    The votes are counted per digest byte with C-level counting (a histogram of each byte
    position, then, per bit, the sum of the byte values having it), not bit by bit in Python:
    this function was half of the fetcher's CPU time. The values must never change, since
    the seen-articles topic keeps them across releases."""
    words = _WORD.findall(text.casefold())
    if not words:
        return 0
    if len(words) < shingle:
        grams = [" ".join(words)]
    else:
        grams = [" ".join(words[i : i + shingle]) for i in range(len(words) - shingle + 1)]
    digests = b"".join([blake2b(g.encode("utf-8"), digest_size=8).digest() for g in grams])
    half = len(grams) / 2
    result = 0
    for index in range(8):  # digest byte `index` holds bits 56 - 8*index .. 63 - 8*index
        histogram = [0] * 256
        for value, count in Counter(digests[index::8]).items():
            histogram[value] = count
        shift = 8 * (7 - index)
        for bit, with_bit in enumerate(_BYTES_WITH_BIT):
            if sum(with_bit(histogram)) > half:
                result |= 1 << (shift + bit)
    return result


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def simhash_hex(value: int) -> str:
    return f"{value:016x}"
