"""Parser of the theme query language (see ``docs/query-language.md``).

``parse_query(text)`` turns a query into an immutable syntax tree of ``Term``, ``And``, ``Or``,
``Not``, ``Near``, ``Meta`` and ``Repeat`` nodes, or raises ``QuerySyntaxError`` naming the
position and what was expected there. The parser is a single left-to-right pass without
backtracking; the query length, the nesting depth and the number of terms are bounded so a
hostile query fails at once with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from mediawatch.query._text import fold

__all__ = [
    "MAX_DEPTH",
    "MAX_DISTANCE",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "META_FIELDS",
    "TEXT_FIELDS",
    "And",
    "Meta",
    "Near",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "Repeat",
    "Term",
    "iter_terms",
    "parse_query",
]

MAX_QUERY_LENGTH: Final = 20_000
"""Longest accepted query, in characters."""
MAX_DEPTH: Final = 50
"""Deepest accepted nesting of parentheses, NOT and scopes."""
MAX_TERMS: Final = 2_000
"""Most terms and phrases in one query."""
MAX_DISTANCE: Final = 1_000
"""Largest n of NEAR/n and ONEAR/n."""
MAX_REPEAT: Final = 1_000
"""Largest N of repeatN:."""
MAX_TERM_TOKENS: Final = 32
"""Most words in one phrase."""
MIN_STAR_PREFIX: Final = 3
"""Fewest characters before a ``*`` wildcard."""

TextField: TypeAlias = Literal["title", "text"]
TEXT_FIELDS: Final = ("title", "text")
META_FIELDS: Final = ("lang", "source", "country", "outlet_type", "genre")

_DOUBLE_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'))
_QUERY_TOKEN = re.compile(r"[\w*?]+")
_NEAR = re.compile(r"(O?NEAR)/(\d{1,6})")
_SCOPE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_REPEAT = re.compile(r"repeat(\d{1,6})")


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed: ``position`` (0-based) and what was ``expected`` there."""

    def __init__(self, problem: str, query: str, position: int, expected: str) -> None:
        self.problem = problem
        self.query = query
        self.position = position
        self.expected = expected
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.problem} at position {self.position}: expected {self.expected}"
        if not self.query or len(self.query) > MAX_QUERY_LENGTH:
            return head
        lo = max(0, self.position - 40)
        hi = min(len(self.query), self.position + 40)
        excerpt = self.query[lo:hi].replace("\n", " ").replace("\t", " ").replace("\r", " ")
        prefix = "..." if lo > 0 else ""
        suffix = "..." if hi < len(self.query) else ""
        caret = " " * (len(prefix) + self.position - lo) + "^"
        return f"{head}\n  {prefix}{excerpt}{suffix}\n  {caret}"


# --- syntax tree ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a quoted phrase.

    ``tokens`` are the normalised (casefolded, accent-free) words; a word may end in ``*`` or
    contain ``?``. ``cased`` holds the same words with their case kept for ``cs(...)`` terms.
    ``field`` restricts the term to the title or the text (``None``: either).
    """

    tokens: tuple[str, ...]
    cased: tuple[str, ...] | None
    field: TextField | None
    phrase: bool
    raw: str
    position: int

    @property
    def case_sensitive(self) -> bool:
        return self.cased is not None

    @property
    def has_wildcard(self) -> bool:
        return any("*" in t or "?" in t for t in self.tokens)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """``left NEAR/distance right``; with ``ordered`` (ONEAR) left must come first."""

    left: Node
    right: Node
    distance: int
    ordered: bool
    position: int


@dataclass(frozen=True, slots=True)
class Meta:
    """A condition on the article's metadata: ``lang:fr``, ``country:(RU OR BY)``."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    """At least ``count`` occurrences of ``child`` (``repeat3:"term"``)."""

    count: int
    child: Node


Node: TypeAlias = Term | And | Or | Not | Near | Meta | Repeat


def iter_terms(node: Node) -> list[Term]:
    """Every term of ``node``, left to right (iteratively: trees may be wide)."""
    out: list[Term] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Term):
            out.append(n)
        elif isinstance(n, And | Or):
            stack.extend(reversed(n.children))
        elif isinstance(n, Not | Repeat):
            stack.append(n.child)
        elif isinstance(n, Near):
            stack.append(n.right)
            stack.append(n.left)
    return out


# --- lexer -----------------------------------------------------------------------------------

_Kind = Literal["(", ")", "phrase", "word", "AND", "OR", "NOT", "near", "cs", "scope", "end"]


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: _Kind
    text: str
    pos: int
    number: int = 0


def _lex(query: str) -> list[_Tok]:
    q = query.translate(_DOUBLE_QUOTES)
    toks: list[_Tok] = []
    i = 0
    n = len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok(c, c, i))  # type: ignore[arg-type]
            i += 1
        elif c == '"':
            close = q.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError(
                    "unterminated phrase", query, i, 'a closing " for the phrase opened here'
                )
            toks.append(_Tok("phrase", q[i + 1 : close], i))
            i = close + 1
        else:
            j = i
            while j < n and not q[j].isspace() and q[j] not in '()"':
                j += 1
            word = q[i:j]
            if word == "cs" and j < n and q[j] == "(":
                toks.append(_Tok("cs", word, i))
                j += 1
            else:
                _lex_word(query, word, i, toks)
            i = j
    toks.append(_Tok("end", "", n))
    return toks


def _lex_word(query: str, word: str, pos: int, toks: list[_Tok]) -> None:
    while True:
        if word in ("AND", "OR", "NOT"):
            toks.append(_Tok(word, word, pos))  # type: ignore[arg-type]
            return
        if word.startswith(("NEAR", "ONEAR")):
            m = _NEAR.fullmatch(word)
            if m is None:
                raise QuerySyntaxError(
                    f"malformed proximity operator {word!r}",
                    query,
                    pos,
                    f"{word.split('/')[0]}/n with n a whole number of words, e.g. NEAR/5",
                )
            toks.append(_Tok("near", m.group(1), pos, int(m.group(2))))
            return
        m = _SCOPE.match(word)
        if m is None:
            toks.append(_Tok("word", word, pos))
            return
        name = m.group(1)
        if name not in TEXT_FIELDS and name not in META_FIELDS and not _REPEAT.fullmatch(name):
            raise QuerySyntaxError(
                f"unknown field {name!r}",
                query,
                pos,
                "one of title:, text:, lang:, source:, country:, outlet_type:, genre: or repeatN:",
            )
        toks.append(_Tok("scope", name, pos))
        rest = word[m.end() :]
        if not rest:
            return
        pos += m.end()
        word = rest


# --- parser ----------------------------------------------------------------------------------

_OPERAND = "a term, a phrase, cs(...), a field scope or '('"


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.terms = 0

    def error(self, problem: str, pos: int, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(problem, self.query, pos, expected)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "end":
            self.i += 1
        return t

    @staticmethod
    def found(t: _Tok) -> str:
        return "end of query" if t.kind == "end" else repr(t.text or t.kind)

    def check_depth(self, depth: int, pos: int) -> None:
        if depth > MAX_DEPTH:
            raise self.error(
                f"query nested deeper than {MAX_DEPTH} levels",
                pos,
                "fewer nested parentheses, NOT or scopes",
            )

    def parse(self) -> Node:
        node = self.expr(0, None)
        t = self.peek()
        if t.kind != "end":
            if t.kind == ")":
                raise self.error("unbalanced ')'", t.pos, "the end of the query")
            raise self.error(
                f"unexpected {self.found(t)}",
                t.pos,
                "AND, OR, NEAR/n, ONEAR/n or the end of the query",
            )
        return node

    def expr(self, depth: int, field: TextField | None) -> Node:
        children = [self.unary(depth, field)]
        op: str | None = None
        op_pos = 0
        while self.peek().kind in ("AND", "OR"):
            t = self.take()
            if op is None:
                op, op_pos = t.kind, t.pos
            elif t.kind != op:
                raise self.error(
                    f"{op} (position {op_pos}) and {t.kind} mixed at the same level",
                    t.pos,
                    "parentheses to group them, e.g. (a AND b) OR c",
                )
            children.append(self.unary(depth, field))
        if op is None:
            return children[0]
        return And(tuple(children)) if op == "AND" else Or(tuple(children))

    def unary(self, depth: int, field: TextField | None) -> Node:
        t = self.peek()
        if t.kind == "NOT":
            self.take()
            self.check_depth(depth + 1, t.pos)
            return Not(self.unary(depth + 1, field))
        return self.proximity(depth, field)

    def proximity(self, depth: int, field: TextField | None) -> Node:
        left = self.primary(depth, field)
        while self.peek().kind == "near":
            t = self.take()
            if not 0 <= t.number <= MAX_DISTANCE:
                raise self.error(
                    f"distance {t.number} too large", t.pos, f"n between 0 and {MAX_DISTANCE}"
                )
            right = self.primary(depth, field)
            for side in (left, right):
                bad = _proximity_problem(side)
                if bad:
                    raise self.error(
                        f"{t.text}/{t.number} cannot take {bad} as an operand",
                        t.pos,
                        "terms, phrases, OR groups or proximity groups on both sides",
                    )
            left = Near(left, right, t.number, t.text == "ONEAR", t.pos)
        return left

    def primary(self, depth: int, field: TextField | None) -> Node:
        t = self.take()
        if t.kind == "(":
            self.check_depth(depth + 1, t.pos)
            node = self.expr(depth + 1, field)
            close = self.take()
            if close.kind != ")":
                raise self.error(
                    f"unexpected {self.found(close)}",
                    close.pos,
                    f"')' to close the '(' at position {t.pos}, or an operator",
                )
            return node
        if t.kind in ("word", "phrase"):
            return self.term(t, field, case_sensitive=False)
        if t.kind == "cs":
            inner = self.take()
            if inner.kind not in ("word", "phrase"):
                raise self.error(
                    f"unexpected {self.found(inner)} in cs(...)", inner.pos, "a term or a phrase"
                )
            close = self.take()
            if close.kind != ")":
                raise self.error(f"unexpected {self.found(close)}", close.pos, "')' to close cs(")
            return self.term(inner, field, case_sensitive=True)
        if t.kind == "scope":
            return self.scope(t, depth, field)
        raise self.error(f"unexpected {self.found(t)}", t.pos, _OPERAND)

    def scope(self, t: _Tok, depth: int, field: TextField | None) -> Node:
        self.check_depth(depth + 1, t.pos)
        name = t.text
        if name == "title":
            return self.primary(depth + 1, "title")
        if name == "text":
            return self.primary(depth + 1, "text")
        operand_pos = self.peek().pos
        if name in META_FIELDS:
            operand = self.primary(depth + 1, field)
            values = _meta_values(operand)
            if values is None:
                raise self.error(
                    f"{name}: takes plain values",
                    operand_pos,
                    f"a value or an OR group of values, e.g. {name}:(a OR b)",
                )
            return Meta(name, values)
        m = _REPEAT.fullmatch(name)
        assert m is not None
        count = int(m.group(1))
        if not 1 <= count <= MAX_REPEAT:
            raise self.error(
                f"repeat count {count} out of range",
                t.pos,
                f"repeatN: with N from 1 to {MAX_REPEAT}",
            )
        child = self.primary(depth + 1, field)
        bad = _proximity_problem(child)
        if bad:
            raise self.error(
                f"{name}: cannot take {bad}", operand_pos, "a term, a phrase or an OR group"
            )
        return Repeat(count, child)

    def term(self, t: _Tok, field: TextField | None, case_sensitive: bool) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"more than {MAX_TERMS} terms", t.pos, "a shorter query")
        raw = t.text
        # offset of raw[0] in the query
        base = t.pos + 1 if t.kind == "phrase" else t.pos
        tokens = tuple(_QUERY_TOKEN.findall(fold(raw)))
        if not tokens:
            raise self.error(
                f"{'empty phrase' if not raw.strip() else repr(raw) + ' has no letters or digits'}",
                t.pos,
                "a word with letters or digits",
            )
        if len(tokens) > MAX_TERM_TOKENS:
            raise self.error(
                f"phrase of {len(tokens)} words", t.pos, f"at most {MAX_TERM_TOKENS} words"
            )
        for tok in tokens:
            self.check_wildcards(tok, raw, base)
        cased: tuple[str, ...] | None = None
        if case_sensitive:
            cased = tuple(_QUERY_TOKEN.findall(fold(raw, keep_case=True)))
            if len(cased) != len(tokens):
                raise self.error(
                    f"cannot match {raw!r} case-sensitively", t.pos, "a simpler cs(...) term"
                )
        return Term(tokens, cased, field, t.kind == "phrase", raw, t.pos)

    def check_wildcards(self, tok: str, raw: str, base: int) -> None:
        star = tok.find("*")
        qmark = tok.find("?")
        if star < 0 and qmark < 0:
            return
        if star >= 0 and star != len(tok) - 1:
            raise self.error(
                f"wildcard '*' inside {tok!r}",
                base + max(0, raw.find("*")),
                "'*' only at the end of a word (use '?' for one letter inside a word)",
            )
        first = min(p for p in (star, qmark) if p >= 0)
        where = base + max(0, raw.find(tok[first]))
        if star >= 0 and first < MIN_STAR_PREFIX:
            raise self.error(
                f"wildcard prefix {tok[:first]!r} too short",
                where,
                f"at least {MIN_STAR_PREFIX} letters before '*', e.g. secur*",
            )
        if first < 1:
            raise self.error(
                f"wildcard {tok!r} starts with '?'", where, "at least one letter before '?'"
            )


def _proximity_problem(node: Node) -> str | None:
    """Why ``node`` cannot be a NEAR/ONEAR or repeatN operand (``None`` if it can)."""
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, And):
            return "an AND group"
        if isinstance(n, Not):
            return "NOT"
        if isinstance(n, Meta):
            return f"the metadata scope {n.field}:"
        if isinstance(n, Repeat):
            return "repeatN:"
        if isinstance(n, Or):
            stack.extend(n.children)
    return None


def _meta_values(node: Node) -> tuple[str, ...] | None:
    if isinstance(node, Term):
        if node.has_wildcard or node.case_sensitive:
            return None
        return (node.raw.strip().casefold(),)
    if isinstance(node, Or):
        values: list[str] = []
        for child in node.children:
            v = _meta_values(child)
            if v is None:
                return None
            values.extend(v)
        return tuple(values)
    return None


def parse_query(query: str) -> Node:
    """Parse ``query`` into a syntax tree; raise ``QuerySyntaxError`` if it is not valid."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"query of {len(query):,} characters is too long",
            query,
            MAX_QUERY_LENGTH,
            f"at most {MAX_QUERY_LENGTH:,} characters",
        )
    if not query.strip():
        raise QuerySyntaxError("empty query", query, 0, _OPERAND)
    return _Parser(query).parse()
