"""Compiled theme queries: one Aho-Corasick automaton for every literal term of every query.

How a document is matched:

1. ``Document`` normalises each field once (``text.normalise``), splits it into word tokens and
   joins them with single spaces between two sentinel spaces: ``" nato s eastward expansion "``.
2. ``QueryIndex`` holds every term of every query compiled into it. A literal term is the key
   ``" w1 w2 ... "`` (spaces included, so a hit always starts and ends on word boundaries); a
   term with a wildcard is keyed by its literal words up to the wildcard's prefix and checked
   against the document's tokens when the automaton reports it. One pass of the automaton over
   each field yields the token positions of every term, whatever the number of queries.
3. Only queries that have a hit are evaluated, plus the few that can be true without any term
   (``NOT x``, ``lang:fr``), found once at compile time. Boolean and proximity logic run over the
   token positions of the hits; the evidence is mapped back to offsets of the original text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeAlias

import ahocorasick

from mediawatch.query._syntax import (
    And,
    Meta,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Repeat,
    Term,
    parse_query,
)
from mediawatch.query._text import (
    NormalisedText,
    fold,
    normalise,
    sentence_of,
    sentence_spans,
    token_spans,
    tokenise,
)
from mediawatch.schemas import Evidence

__all__ = [
    "CompiledQuery",
    "Document",
    "QueryIndex",
    "QueryResult",
    "QuerySyntaxError",
    "Scan",
    "compile_query",
]

FIELDS = ("title", "text")
MAX_PROXIMITY_RESULTS = 10_000
"""Most proximity pairs kept per NEAR node and document (the match itself is already known)."""

# A leaf occurrence: (field, first token, last token); an occurrence adds the leaves it is made of.
_Leaf: TypeAlias = tuple[str, int, int]
_Occ: TypeAlias = tuple[str, int, int, tuple[_Leaf, ...]]


# --- documents -------------------------------------------------------------------------------


class FieldText:
    """One field of a document (title or text), analysed once and cached."""

    __slots__ = (
        "_evidence",
        "_jpos",
        "_sentences",
        "_spans",
        "joined",
        "name",
        "norm",
        "original",
        "tokens",
    )

    def __init__(self, name: str, original: str) -> None:
        self.name = name
        self.original = original
        self.norm: NormalisedText = normalise(original)
        self.tokens: list[str] = tokenise(self.norm.text)
        self.joined = " " + " ".join(self.tokens) + " " if self.tokens else ""
        self._jpos: list[int] | None = None
        self._spans: list[tuple[int, int]] | None = None
        self._sentences: dict[int, list[tuple[int, int]]] = {}  # paragraph start -> spans
        self._evidence: dict[tuple[int, int], Evidence] = {}

    def token_at(self, joined_offset: int) -> int:
        """Index of the token starting at ``joined_offset`` of ``joined``."""
        jpos = self._jpos
        if jpos is None:
            jpos = self._jpos = list(accumulate(map((1).__add__, map(len, self.tokens)), initial=1))
        return bisect.bisect_left(jpos, joined_offset)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Span of every token in the normalised text."""
        if self._spans is None:
            self._spans = token_spans(self.norm.text)
        return self._spans

    def sentence_at(self, offset: int) -> tuple[int, int]:
        """The sentence containing original ``offset``, segmenting only its paragraph."""
        original = self.original
        para_start = original.rfind("\n", 0, offset) + 1
        spans = self._sentences.get(para_start)
        if spans is None:
            para_end = original.find("\n", offset)
            if para_end < 0:
                para_end = len(original)
            spans = [
                (para_start + s, para_start + e)
                for s, e in sentence_spans(original[para_start:para_end])
            ]
            self._sentences[para_start] = spans
        if not spans:
            return para_start, para_start
        return sentence_of(original, spans, offset)

    def original_span(self, first: int, last: int) -> tuple[int, int]:
        """Original character span of tokens ``first..last`` (inclusive)."""
        spans = self.spans
        return self.norm.to_original(spans[first][0], spans[last][1])

    def cased_token(self, i: int) -> str:
        """Token ``i`` as written (accents stripped, case kept), for case-sensitive terms."""
        start, end = self.original_span(i, i)
        return fold(self.original[start:end], keep_case=True)

    def evidence(self, first: int, last: int) -> Evidence:
        """Evidence for tokens ``first..last`` (inclusive), shared by every query citing them."""
        ev = self._evidence.get((first, last))
        if ev is None:
            ev = self._evidence[(first, last)] = self._make_evidence(first, last)
        return ev

    def _make_evidence(self, first: int, last: int) -> Evidence:
        start, end = self.original_span(first, last)
        s_start, s_end = self.sentence_at(start)
        return Evidence(
            start=start,
            end=end,
            text=self.original[start:end],
            sentence=self.original[s_start:s_end],
            sentence_start=s_start,
            sentence_end=s_end,
            field="title" if self.name == "title" else "text",
        )


class Document:
    """An article to match: its fields are normalised and tokenised once, on first use, and
    the automaton's hits are cached per ``QueryIndex``, so any number of compiled queries and
    matchers can share one ``Document``."""

    def __init__(
        self,
        text: str,
        title: str = "",
        language: str | None = None,
        source_id: str | None = None,
        country: str | None = None,
        outlet_type: str | None = None,
        genre: str | None = None,
    ) -> None:
        self.text = text
        self.title = title
        self.language = language
        self.source_id = source_id
        self.country = country
        self.outlet_type = outlet_type
        self.genre = genre
        self._fields: dict[str, FieldText] = {}
        self._scans: dict[int, tuple[QueryIndex, int, Scan]] = {}
        lang = (language or "").strip().casefold().replace("_", "-")
        self.language_key: str | None = lang.split("-")[0] if lang else None
        self._meta: dict[str, frozenset[str]] = {
            "lang": frozenset(v for v in (lang, self.language_key) if v),
            "source": _meta_set(source_id),
            "country": _meta_set(country),
            "outlet_type": _meta_set(outlet_type),
            "genre": _meta_set(genre),
        }

    def field(self, name: str) -> FieldText:
        """The analysed ``"title"`` or ``"text"`` field."""
        ft = self._fields.get(name)
        if ft is None:
            ft = self._fields[name] = FieldText(name, self.title if name == "title" else self.text)
        return ft

    def meta(self, name: str) -> frozenset[str]:
        return self._meta[name]

    def hits(self, index: QueryIndex) -> Scan:
        """The automaton's hits for the terms of ``index``, computed once per index."""
        cached = self._scans.get(id(index))
        if cached is not None and cached[0] is index and cached[1] == index.generation:
            return cached[2]
        hits = index.scan(self)
        self._scans[id(index)] = (index, index.generation, hits)
        return hits


def _meta_set(value: str | None) -> frozenset[str]:
    return frozenset([value.strip().casefold()]) if value and value.strip() else frozenset()


# --- terms and the automaton -------------------------------------------------------------------


def _token_pattern(token: str) -> re.Pattern[str] | None:
    if "*" not in token and "?" not in token:
        return None
    parts = []
    for ch in token:
        if ch == "*":
            parts.append(r"\w*")
        elif ch == "?":
            parts.append(r"[^\W\d_]")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts))


class _TermInfo:
    """A distinct term of the index: its automaton key and the checks a hit must pass."""

    __slots__ = ("cased", "cased_checks", "checks", "key", "n", "tid", "tokens")

    def __init__(self, tid: int, tokens: tuple[str, ...], cased: tuple[str, ...] | None) -> None:
        self.tid = tid
        self.tokens = tokens
        self.cased = cased
        self.n = len(tokens)
        patterns = [_token_pattern(t) for t in tokens]
        first_wild = next((i for i, p in enumerate(patterns) if p is not None), None)
        if first_wild is None:
            self.key = " " + " ".join(tokens) + " "
            self.checks: list[tuple[int, re.Pattern[str] | str]] = []
        else:
            w = tokens[first_wild]
            cut = min(i for i in (w.find("*"), w.find("?")) if i >= 0)
            self.key = " " + " ".join([*tokens[:first_wild], w[:cut]])
            # every token from the first wildcard on is checked against the document's tokens
            self.checks = [(i, patterns[i] or tokens[i]) for i in range(first_wild, self.n)]
        self.cased_checks: list[tuple[int, re.Pattern[str] | str]] = []
        if cased is not None:
            self.cased_checks = [(i, _token_pattern(t) or t) for i, t in enumerate(cased)]

    def accept(self, ft: FieldText, first: int) -> bool:
        tokens = ft.tokens
        if first + self.n > len(tokens):
            return False
        for i, check in self.checks:
            tok = tokens[first + i]
            if isinstance(check, str):
                if tok != check:
                    return False
            elif check.fullmatch(tok) is None:
                return False
        for i, check in self.cased_checks:
            tok = ft.cased_token(first + i)
            if isinstance(check, str):
                if tok != check:
                    return False
            elif check.fullmatch(tok) is None:
                return False
        return True


class QueryIndex:
    """The terms of a set of compiled queries and the one automaton that finds them all.

    Compiling a query into an index adds its terms; the automaton is rebuilt on the next scan.
    Compile everything up front: an index is safe to share between threads for matching, not
    while queries are still being added.
    """

    def __init__(self) -> None:
        self._terms: dict[tuple[tuple[str, ...], tuple[str, ...] | None], _TermInfo] = {}
        self.infos: list[_TermInfo] = []
        self._key_ids: dict[str, int] = {}
        self.key_len: list[int] = []  # key id -> length of the key
        self.key_queries: list[list[int]] = []  # key id -> ids of the queries using it
        self.term_key: list[int] = []  # term id -> key id
        self.always: list[int] = []  # ids of queries that can match without any term hit
        self._automaton: Any = None
        self.generation = 0
        self._next_query = 0
        # Query text -> its compiled form: a rule validated, loaded and reloaded compiles
        # once, and the index does not grow with every check of the same query.
        self._compiled: dict[str, CompiledQuery] = {}

    @property
    def term_count(self) -> int:
        return len(self.infos)

    def term_id(self, term: Term) -> int:
        k = (term.tokens, term.cased)
        info = self._terms.get(k)
        if info is None:
            info = _TermInfo(len(self.infos), term.tokens, term.cased)
            self._terms[k] = info
            self.infos.append(info)
            kid = self._key_ids.get(info.key)
            if kid is None:
                kid = self._key_ids[info.key] = len(self.key_len)
                self.key_len.append(len(info.key))
                self.key_queries.append([])
                self._automaton = None
                self.generation += 1
            self.term_key.append(kid)
        return info.tid

    def compile(self, query: str | Node) -> CompiledQuery:
        """Compile ``query`` (text or syntax tree) into this index; a text compiled before
        returns the same ``CompiledQuery``."""
        if isinstance(query, str) and query in self._compiled:
            return self._compiled[query]
        node = parse_query(query) if isinstance(query, str) else query
        qid = self._next_query
        self._next_query += 1
        tids: set[int] = set()
        root = _compile_node(node, self, tids)
        # Only the terms the query cannot match without wake it up: "rare AND (common OR
        # other)" is evaluated on the articles that contain "rare", not on every article
        # that contains a common word.
        required = _required_terms(root)
        kids = frozenset(self.term_key[t] for t in (tids if required is None else required))
        for kid in kids:
            self.key_queries[kid].append(qid)
        always = _may_match_without_hits(root)
        if always:
            self.always.append(qid)
        text = query if isinstance(query, str) else ""
        compiled = CompiledQuery(text, node, root, self, qid, kids, always)
        if text:
            self._compiled[text] = compiled
        return compiled

    def _build(self) -> Any:
        automaton = ahocorasick.Automaton()
        for key, kid in self._key_ids.items():
            automaton.add_word(key, kid)
        if len(automaton):
            automaton.make_automaton()
        self._automaton = automaton
        return automaton

    def scan(self, doc: Document) -> Scan:
        """Run the automaton once over the title and the text of ``doc``."""
        automaton = self._automaton if self._automaton is not None else self._build()
        per_field: list[tuple[FieldText, dict[int, list[int]]]] = []
        found: set[int] = set()
        if len(automaton):
            for name in FIELDS:
                ft = doc.field(name)
                if not ft.joined:
                    continue
                raw: dict[int, list[int]] = {}
                get = raw.get
                for end, kid in automaton.iter(ft.joined):
                    ends = get(kid)
                    if ends is None:
                        raw[kid] = [end]
                    else:
                        ends.append(end)
                if raw:
                    per_field.append((ft, raw))
                    found.update(raw)
        return Scan(self, per_field, found)


class Scan:
    """The automaton's hits in one document: end offsets per key, turned into verified token
    positions per term only when a query needs that term."""

    __slots__ = ("_fields", "_leaves", "index", "keys")

    def __init__(
        self,
        index: QueryIndex,
        fields: list[tuple[FieldText, dict[int, list[int]]]],
        keys: set[int],
    ) -> None:
        self.index = index
        self._fields = fields
        self.keys = keys
        self._leaves: dict[int, list[_Leaf]] = {}

    def leaves(self, tid: int) -> list[_Leaf]:
        """Every occurrence of term ``tid``: (field, first token, last token)."""
        out = self._leaves.get(tid)
        if out is not None:
            return out
        out = []
        index = self.index
        kid = index.term_key[tid]
        if kid in self.keys:
            info = index.infos[tid]
            offset = 2 - index.key_len[kid]
            last = info.n - 1
            check = bool(info.checks or info.cased_checks)
            for ft, raw in self._fields:
                ends = raw.get(kid)
                if not ends:
                    continue
                name = ft.name
                for end in ends:
                    first = ft.token_at(end + offset)
                    if check and not info.accept(ft, first):
                        continue
                    out.append((name, first, first + last))
        self._leaves[tid] = out
        return out


# --- compiled query trees ------------------------------------------------------------------


class _Eval:
    """Evaluation context: one document and its hits."""

    __slots__ = ("doc", "scan")

    def __init__(self, doc: Document, scan: Scan) -> None:
        self.doc = doc
        self.scan = scan


class _C:
    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        raise NotImplementedError


class _CTerm(_C):
    __slots__ = ("field", "tid")

    def __init__(self, tid: int, field: str | None) -> None:
        self.tid = tid
        self.field = field

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        leaves = ctx.scan.leaves(self.tid)
        if not leaves:
            return False, []
        f = self.field
        occs: list[_Occ] = [
            (lf[0], lf[1], lf[2], (lf,)) for lf in leaves if f is None or lf[0] == f
        ]
        return bool(occs), occs


class _CAnd(_C):
    __slots__ = ("children",)

    def __init__(self, children: list[_C]) -> None:
        # cheap, selective children first: terms, then the rest; NOT last
        self.children = sorted(children, key=_cost)

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        out: list[_Occ] = []
        for child in self.children:
            ok, occs = child.eval(ctx)
            if not ok:
                return False, []
            out.extend(occs)
        return True, out


class _COr(_C):
    __slots__ = ("children",)

    def __init__(self, children: list[_C]) -> None:
        self.children = children

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        matched = False
        out: list[_Occ] = []
        for child in self.children:
            ok, occs = child.eval(ctx)
            if ok:
                matched = True
                out.extend(occs)
        return matched, out


class _CNot(_C):
    __slots__ = ("child",)

    def __init__(self, child: _C) -> None:
        self.child = child

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        ok, _ = self.child.eval(ctx)
        return not ok, []


class _CMeta(_C):
    __slots__ = ("field", "values")

    def __init__(self, field: str, values: frozenset[str]) -> None:
        self.field = field
        self.values = values

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        return not self.values.isdisjoint(ctx.doc.meta(self.field)), []


class _CRepeat(_C):
    __slots__ = ("child", "count")

    def __init__(self, count: int, child: _C) -> None:
        self.count = count
        self.child = child

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        ok, occs = self.child.eval(ctx)
        if not ok or len({o[:3] for o in occs}) < self.count:
            return False, []
        return True, occs


class _CNear(_C):
    __slots__ = ("distance", "left", "ordered", "right")

    def __init__(self, left: _C, right: _C, distance: int, ordered: bool) -> None:
        self.left = left
        self.right = right
        self.distance = distance
        self.ordered = ordered

    def eval(self, ctx: _Eval) -> tuple[bool, list[_Occ]]:
        ok, left = self.left.eval(ctx)
        if not ok or not left:
            return False, []
        ok, right = self.right.eval(ctx)
        if not ok or not right:
            return False, []
        n = self.distance
        out: list[_Occ] = []
        for name in FIELDS:
            rs = sorted(o for o in right if o[0] == name)
            if not rs:
                continue
            starts = [o[1] for o in rs]
            longest = max(o[2] - o[1] for o in rs)
            for a in left:
                if a[0] != name:
                    continue
                _, a_s, a_e, _ = a
                lo = 0 if self.ordered else bisect.bisect_left(starts, a_s - n - 1 - longest)
                hi = bisect.bisect_right(starts, a_e + n + 1)
                for b in rs[lo:hi]:
                    _, b_s, b_e, _ = b
                    if b_s == a_s and b_e == a_e:
                        continue  # a term is not near itself
                    if self.ordered:
                        if b_s <= a_e or b_s - a_e - 1 > n:
                            continue
                    elif max(b_s - a_e, a_s - b_e) - 1 > n:
                        continue
                    first, last = min(a_s, b_s), max(a_e, b_e)
                    # One mention: the evidence spans both sides and the words between them.
                    out.append((name, first, last, ((name, first, last),)))
                    if len(out) >= MAX_PROXIMITY_RESULTS:
                        return True, out
        return bool(out), out


def _cost(node: _C) -> int:
    if isinstance(node, _CTerm | _CMeta):
        return 0
    if isinstance(node, _CNot):
        return 2
    return 1


def _compile_node(node: Node, index: QueryIndex, tids: set[int]) -> _C:
    if isinstance(node, Term):
        tid = index.term_id(node)
        tids.add(tid)
        return _CTerm(tid, node.field)
    if isinstance(node, And):
        return _CAnd([_compile_node(c, index, tids) for c in node.children])
    if isinstance(node, Or):
        return _COr([_compile_node(c, index, tids) for c in node.children])
    if isinstance(node, Not):
        return _CNot(_compile_node(node.child, index, tids))
    if isinstance(node, Near):
        return _CNear(
            _compile_node(node.left, index, tids),
            _compile_node(node.right, index, tids),
            node.distance,
            node.ordered,
        )
    if isinstance(node, Meta):
        return _CMeta(node.field, frozenset(node.values))
    if isinstance(node, Repeat):
        return _CRepeat(node.count, _compile_node(node.child, index, tids))
    raise TypeError(f"not a query node: {node!r}")


def _required_terms(node: _C) -> frozenset[int] | None:
    """Term ids of which at least one must occur for ``node`` to match, or None when no such
    set exists (NOT, metadata). For AND and NEAR the smallest child set is enough."""
    if isinstance(node, _CTerm):
        return frozenset((node.tid,))
    if isinstance(node, _CRepeat):
        return _required_terms(node.child)
    if isinstance(node, _COr):
        union: set[int] = set()
        for child in node.children:
            child_terms = _required_terms(child)
            if child_terms is None:
                return None
            union |= child_terms
        return frozenset(union)
    if isinstance(node, _CAnd | _CNear):
        children = node.children if isinstance(node, _CAnd) else [node.left, node.right]
        options = [t for t in map(_required_terms, children) if t is not None]
        return min(options, key=len) if options else None
    return None


def _may_match_without_hits(node: _C) -> bool:
    """Whether ``node`` can be true for a document in which no term occurs.

    Three-valued: terms are false, metadata conditions unknown. Queries for which this is false
    are evaluated only for documents where at least one of their terms occurs.
    """

    def value(n: _C) -> bool | None:
        if isinstance(n, _CTerm | _CNear | _CRepeat):
            return False
        if isinstance(n, _CMeta):
            return None
        if isinstance(n, _CNot):
            v = value(n.child)
            return None if v is None else not v
        if isinstance(n, _CAnd):
            vals = [value(c) for c in n.children]
            if any(v is False for v in vals):
                return False
            return True if all(v is True for v in vals) else None
        if isinstance(n, _COr):
            vals = [value(c) for c in n.children]
            if any(v is True for v in vals):
                return True
            return False if all(v is False for v in vals) else None
        raise TypeError(n)

    return value(node) is not False


# --- public API ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryResult:
    matched: bool
    evidence: list[Evidence]

    def __bool__(self) -> bool:
        return self.matched


def _evidence(doc: Document, occs: Iterable[_Occ]) -> list[Evidence]:
    """Evidence of the leaf occurrences: title first, by offset, without duplicates; spans
    lying inside another span (a word of a phrase that also matched as a whole) are dropped
    and overlapping spans (two proximity matches sharing a word) are joined into one."""
    leaves = sorted(
        {leaf for occ in occs for leaf in occ[3]}, key=lambda lf: (lf[0] != "title", lf[1], -lf[2])
    )
    kept: list[_Leaf] = []
    field = ""
    max_end = -1
    for leaf in leaves:
        if leaf[0] != field:
            field, max_end = leaf[0], -1
        elif leaf[2] <= max_end:
            continue
        elif leaf[1] <= max_end:
            kept[-1] = (field, kept[-1][1], leaf[2])
            max_end = leaf[2]
            continue
        max_end = max(max_end, leaf[2])
        kept.append(leaf)
    return [doc.field(name).evidence(first, last) for name, first, last in kept]


class CompiledQuery:
    """A query compiled into a ``QueryIndex``; ``evaluate(doc)`` says whether it matches."""

    __slots__ = ("_root", "always", "index", "key_ids", "node", "qid", "text")

    def __init__(
        self,
        text: str,
        node: Node,
        root: _C,
        index: QueryIndex,
        qid: int,
        key_ids: frozenset[int],
        always: bool,
    ) -> None:
        self.text = text
        self.node = node
        self._root = root
        self.index = index
        self.qid = qid
        self.key_ids = key_ids
        self.always = always

    def __repr__(self) -> str:
        return f"CompiledQuery({self.text!r})"

    def candidate(self, scan: Scan) -> bool:
        """Whether the query can match given the automaton's hits (else it is not evaluated)."""
        return self.always or not self.key_ids.isdisjoint(scan.keys)

    def evaluate(self, doc: Document) -> QueryResult:
        scan = doc.hits(self.index)
        if not self.candidate(scan):
            return QueryResult(False, [])
        return self.evaluate_scan(doc, scan)

    def evaluate_scan(self, doc: Document, scan: Scan) -> QueryResult:
        """Evaluate on a scan already made, for a caller that matches many queries of one
        index per document (one automaton pass for all of them)."""
        ok, occs = self._root.eval(_Eval(doc, scan))
        if not ok:
            return QueryResult(False, [])
        return QueryResult(True, _evidence(doc, occs))


_DEFAULT_INDEX = QueryIndex()


def compile_query(query: str, index: QueryIndex | None = None) -> CompiledQuery:
    """Compile ``query``; raise ``QuerySyntaxError`` if it is not valid.

    Without ``index`` the query joins a process-wide index shared by all such ad-hoc queries;
    pass the index of a theme matcher to share its automaton instead.
    """
    return (index or _DEFAULT_INDEX).compile(query)
