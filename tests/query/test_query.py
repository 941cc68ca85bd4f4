"""The theme query language parser."""

from __future__ import annotations

import pytest

from mediawatch.query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    And,
    Meta,
    Near,
    Not,
    Or,
    QuerySyntaxError,
    Repeat,
    Term,
    iter_terms,
    parse_query,
)


def test_single_term_and_phrase_are_normalised() -> None:
    term = parse_query("Sécurité")
    assert isinstance(term, Term)
    assert term.tokens == ("securite",)
    assert not term.phrase and not term.case_sensitive

    phrase = parse_query("“Indivisible  Security”")
    assert isinstance(phrase, Term)
    assert phrase.phrase
    assert phrase.tokens == ("indivisible", "security")


def test_not_binds_tighter_than_and() -> None:
    node = parse_query("NOT a AND b")
    assert isinstance(node, And)
    assert isinstance(node.children[0], Not)
    assert isinstance(node.children[1], Term)


def test_near_binds_tighter_than_not_and_or() -> None:
    node = parse_query("NOT a NEAR/2 b OR c")
    assert isinstance(node, Or)
    first = node.children[0]
    assert isinstance(first, Not)
    assert isinstance(first.child, Near)


def test_parentheses_group() -> None:
    node = parse_query("(a OR b) AND (c OR d) AND NOT e")
    assert isinstance(node, And)
    assert [type(c) for c in node.children] == [Or, Or, Not]


def test_mixing_and_or_is_rejected_with_position() -> None:
    query = "russia AND china OR brics"
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    err = info.value
    assert err.position == query.index("OR")
    assert "parentheses" in err.expected
    assert "position 17" in str(err)
    caret_line = str(err).splitlines()[-1]
    excerpt_line = str(err).splitlines()[-2]
    assert excerpt_line[caret_line.index("^") :].startswith("OR")


def test_mixing_or_then_and_is_rejected_too() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("a OR b AND c")
    assert info.value.position == 7


def test_near_and_onear_with_groups_on_both_sides() -> None:
    node = parse_query("(NATO OR alliance) ONEAR/8 (expan* OR enlarg*)")
    assert isinstance(node, Near)
    assert node.ordered and node.distance == 8
    assert isinstance(node.left, Or) and isinstance(node.right, Or)
    plain = parse_query('"a b" NEAR/3 c')
    assert isinstance(plain, Near) and not plain.ordered


def test_near_rejects_and_and_not_operands() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("(a AND b) NEAR/3 c")
    assert info.value.position == 10
    with pytest.raises(QuerySyntaxError):
        parse_query("a NEAR/3 (NOT b)")


def test_malformed_near() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("a NEAR b")
    assert info.value.position == 2
    assert "NEAR/n" in info.value.expected


def test_wildcards() -> None:
    node = parse_query("secur* OR wom?n")
    assert isinstance(node, Or)
    star, qmark = node.children
    assert isinstance(star, Term) and star.tokens == ("secur*",) and star.has_wildcard
    assert isinstance(qmark, Term) and qmark.tokens == ("wom?n",)


@pytest.mark.parametrize("query", ["se*", "a OR ab*", '"x se*"'])
def test_wildcard_needs_three_letter_prefix(query: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert "3 letters" in info.value.expected
    assert query[info.value.position] == "*"


def test_wildcard_only_at_word_end() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("sec*rity")
    assert info.value.position == 3


def test_case_sensitive_terms() -> None:
    node = parse_query('cs(SCO) OR cs("Shanghai Five")')
    assert isinstance(node, Or)
    sco, five = node.children
    assert isinstance(sco, Term) and sco.cased == ("SCO",) and sco.tokens == ("sco",)
    assert isinstance(five, Term) and five.cased == ("Shanghai", "Five") and five.phrase


def test_field_scopes() -> None:
    node = parse_query('title:"indivisible security" AND text:(NATO OR OTAN)')
    assert isinstance(node, And)
    title, body = node.children
    assert isinstance(title, Term) and title.field == "title"
    assert isinstance(body, Or)
    assert all(isinstance(t, Term) and t.field == "text" for t in body.children)


def test_metadata_scopes() -> None:
    node = parse_query("lang:fr AND country:(RU OR BY) AND outlet_type:agency AND source:tass")
    assert isinstance(node, And)
    assert node.children == (
        Meta("lang", ("fr",)),
        Meta("country", ("ru", "by")),
        Meta("outlet_type", ("agency",)),
        Meta("source", ("tass",)),
    )
    with pytest.raises(QuerySyntaxError):
        parse_query("lang:(fr AND de)")


def test_unknown_field() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("a AND author:smith")
    assert info.value.position == 6
    assert "title:" in info.value.expected


def test_repeat() -> None:
    node = parse_query('repeat3:"indivisible security" AND repeat12:NATO')
    assert isinstance(node, And)
    first, second = node.children
    assert isinstance(first, Repeat) and first.count == 3
    assert isinstance(second, Repeat) and second.count == 12
    with pytest.raises(QuerySyntaxError):
        parse_query("repeat0:x")


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ('"indivisible security', 0, "closing"),
        ("(a OR b", 7, "')'"),
        ("a OR b)", 6, "end of the query"),
        ("a b", 2, "AND, OR"),
        ("a AND", 5, "a term"),
        ("", 0, "a term"),
        ("&&", 0, "letters or digits"),
    ],
)
def test_syntax_errors_name_position_and_expectation(
    query: str, position: int, expected: str
) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position
    assert expected in err.expected
    assert f"position {position}" in str(err)


def test_iter_terms_in_order() -> None:
    node = parse_query('(a OR "b c") AND NOT d NEAR/2 e')
    assert [t.raw for t in iter_terms(node)] == ["a", "b c", "d", "e"]


def test_deep_nesting_stops_at_the_depth_limit() -> None:
    """The parser gives up where the nesting passes the limit, not after reading it all
    (and never with a RecursionError)."""
    query = "(" * 5_000 + "x" + ")" * 5_000
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert f"deeper than {MAX_DEPTH}" in str(info.value)
    assert info.value.position == MAX_DEPTH


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("(" * 10_000 + "x" + ")" * 10_000, "too long"),
        ("NOT " * 3_000 + "x", f"deeper than {MAX_DEPTH}"),
    ],
)
def test_ten_thousand_parentheses_and_nots_are_refused(query: str, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert problem in str(info.value)


def test_megabyte_query_is_refused_before_it_is_read() -> None:
    query = "a OR " * 200_000 + "b"
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert "too long" in str(info.value)
    assert info.value.position == MAX_QUERY_LENGTH


def test_long_flat_query_parses_without_recursion() -> None:
    query = " OR ".join(f"term{i}" for i in range(1_500))
    node = parse_query(query)
    assert isinstance(node, Or) and len(node.children) == 1_500
