"""Compiled queries, documents, evidence and the theme matcher."""

from __future__ import annotations

import pytest

from mediawatch.query import (
    CompiledQuery,
    Document,
    QueryIndex,
    QuerySyntaxError,
    ThemeCatalogue,
    ThemeMatcher,
    compile_query,
    normalise,
    sentence_of,
    sentence_spans,
    tokenise,
)
from mediawatch.schemas import Evidence

ARTICLE = (
    "Mr. Putin arrived in Beijing on Thursday. He spoke of “the principle of indivisible "
    "security” and of NATO’s eastward expansion.\n\n"
    "Analysts in the U.S. were unimpressed. The SCO summit follows in June; BRICS leaders "
    "meet later. Sécurité indivisible, wrote one French daily."
)


def check_offsets(doc: Document, evidence: list[Evidence]) -> None:
    for ev in evidence:
        source = doc.title if ev.field == "title" else doc.text
        assert source[ev.start : ev.end] == ev.text
        assert ev.sentence_start is not None and ev.sentence_end is not None
        assert source[ev.sentence_start : ev.sentence_end] == ev.sentence
        assert ev.sentence_start <= ev.start and ev.end <= ev.sentence_end


def texts(evidence: list[Evidence]) -> list[str]:
    return [ev.text for ev in evidence]


# --- text helpers ---------------------------------------------------------------------------


def test_normalise_keeps_offset_map() -> None:
    original = "Straße “Café” e\u0301lan – ﬁne"
    norm = normalise(original)
    assert norm.text == 'strasse "cafe" elan - fine'
    i = norm.text.index("strasse")
    s, e = norm.to_original(i, i + 7)
    assert original[s:e] == "Straße"
    i = norm.text.index("elan")
    s, e = norm.to_original(i, i + 4)
    assert original[s:e] == "e\u0301lan"
    i = norm.text.index("fine")
    s, e = norm.to_original(i, i + 4)
    assert original[s:e] == "ﬁne"


def test_ascii_text_has_identity_map() -> None:
    norm = normalise("NATO Expansion")
    assert norm.text == "nato expansion" and norm.offsets is None
    assert tokenise(norm.text) == ["nato", "expansion"]


def test_sentences_handle_abbreviations_initials_quotes_and_paragraphs() -> None:
    text = (
        "Mr. Smith met Dr. Jones in the U.S. capital. George W. Bush was there too. "
        "“Security is indivisible.” Then they left!\n"
        "A new paragraph without a final stop\n\n"
        "e.g. this is one sentence. 3 more follow."
    )
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == [
        "Mr. Smith met Dr. Jones in the U.S. capital.",
        "George W. Bush was there too.",
        "“Security is indivisible.”",
        "Then they left!",
        "A new paragraph without a final stop",
        "e.g. this is one sentence.",
        "3 more follow.",
    ]


def test_sentence_of() -> None:
    text = "One here. Two there."
    spans = sentence_spans(text)
    assert sentence_of(text, spans, 0) == (0, 9)
    assert sentence_of(text, spans, 12) == (10, 20)
    assert sentence_of(text, spans, 9) == (0, 9)  # the space between belongs to the first
    assert sentence_of("", [], 0) == (0, 0)


# --- queries --------------------------------------------------------------------------------


def test_phrase_evidence_offsets_and_sentence() -> None:
    doc = Document(ARTICLE)
    result = compile_query('"principle of indivisible security"').evaluate(doc)
    assert result.matched
    [ev] = result.evidence
    assert ev.text == "principle of indivisible security"
    assert ev.start == ARTICLE.index("principle")
    assert ev.sentence.startswith("He spoke of")
    assert ev.field == "text"
    check_offsets(doc, result.evidence)


def test_accents_and_curly_quotes_on_both_sides() -> None:
    doc = Document(ARTICLE)
    result = compile_query("“securite indivisible”").evaluate(doc)
    assert texts(result.evidence) == ["Sécurité indivisible"]
    check_offsets(doc, result.evidence)
    result = compile_query("NATO's").evaluate(doc)
    assert texts(result.evidence) == ["NATO’s"]


def test_offsets_survive_length_changing_normalisation() -> None:
    text = "Die Straße ﬁnally: e\u0301quilibre and “indivisible security” again."
    doc = Document(text)
    result = compile_query('"indivisible security" OR equilibre OR strasse').evaluate(doc)
    assert texts(result.evidence) == ["Straße", "e\u0301quilibre", "indivisible security"]
    check_offsets(doc, result.evidence)


def test_boolean_logic() -> None:
    doc = Document(ARTICLE)
    assert compile_query("Putin AND Beijing").evaluate(doc).matched
    assert not compile_query("Putin AND Washington").evaluate(doc).matched
    assert compile_query("Putin AND NOT Washington").evaluate(doc).matched
    assert not compile_query("Putin AND NOT Beijing").evaluate(doc).matched
    result = compile_query("(Washington OR Beijing) AND Putin").evaluate(doc)
    assert texts(result.evidence) == ["Putin", "Beijing"]


def test_not_only_query_matches_without_hits() -> None:
    query = compile_query("NOT kremlin")
    assert query.always
    result = query.evaluate(Document("Nothing relevant here."))
    assert result.matched and result.evidence == []
    assert not compile_query("NOT nothing").evaluate(Document("Nothing relevant here.")).matched


def test_near_either_order_and_onear_ordered() -> None:
    doc = Document("Expansion of the alliance, said NATO. NATO keeps growing.")
    assert compile_query("NATO NEAR/5 expansion").evaluate(doc).matched
    assert not compile_query("NATO ONEAR/5 expansion").evaluate(doc).matched
    assert compile_query("expansion ONEAR/5 NATO").evaluate(doc).matched
    # "expansion of the alliance said NATO": four words between
    assert compile_query("expansion NEAR/4 NATO").evaluate(doc).matched
    assert not compile_query("expansion NEAR/3 NATO").evaluate(doc).matched


def test_near_with_groups_on_both_sides() -> None:
    doc = Document(ARTICLE)
    query = compile_query("(NATO OR alliance) NEAR/3 (expan* OR enlarg* OR eastward)")
    result = query.evaluate(doc)
    # one mention: the span runs from the first side to the last
    assert texts(result.evidence) == ["NATO’s eastward expansion"]
    check_offsets(doc, result.evidence)
    nested = compile_query("(Putin NEAR/3 Beijing) NEAR/20 (NATO OR BRICS)")
    assert nested.evaluate(doc).matched


def test_near_does_not_cross_fields() -> None:
    doc = Document("expansion was discussed", title="NATO summit")
    assert not compile_query("NATO NEAR/5 expansion").evaluate(doc).matched
    assert compile_query("NATO AND expansion").evaluate(doc).matched


def test_wildcards_match_whole_tokens() -> None:
    doc = Document("Security, securities and the securitisation of insecurity; women, woman.")
    result = compile_query("secur*").evaluate(doc)
    assert texts(result.evidence) == ["Security", "securities", "securitisation"]
    assert texts(compile_query("wom?n").evaluate(doc).evidence) == ["women", "woman"]
    assert not compile_query("wom?").evaluate(doc).matched
    phrase = compile_query('"the secur*"').evaluate(doc)
    assert texts(phrase.evidence) == ["the securitisation"]


def test_wildcard_prefix_error_from_compile() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        compile_query("NATO AND ex*")
    assert info.value.position == 11


def test_case_sensitive_terms_check_the_original_text() -> None:
    doc = Document("The SCO met. A sco-like body and the Sco brand did not.")
    result = compile_query("cs(SCO)").evaluate(doc)
    assert [(ev.start, ev.text) for ev in result.evidence] == [(4, "SCO")]
    assert len(compile_query("SCO").evaluate(doc).evidence) == 3
    accents = Document("Le Sénat a voté; le sénat ne siège pas.")
    assert texts(compile_query('cs("Senat")').evaluate(accents).evidence) == ["Sénat"]


def test_field_scopes() -> None:
    doc = Document("NATO is mentioned in the body.", title="Indivisible security")
    assert compile_query('title:"indivisible security"').evaluate(doc).matched
    assert not compile_query('text:"indivisible security"').evaluate(doc).matched
    result = compile_query("title:security AND text:NATO").evaluate(doc)
    assert [(ev.field, ev.text) for ev in result.evidence] == [
        ("title", "security"),
        ("text", "NATO"),
    ]
    check_offsets(doc, result.evidence)


def test_metadata_scopes() -> None:
    doc = Document(
        "L'OTAN s'élargit.",
        language="fr-FR",
        source_id="le-monde",
        country="FR",
        outlet_type="newspaper",
        genre="opinion",
    )
    assert compile_query("OTAN AND lang:fr").evaluate(doc).matched
    assert compile_query("OTAN AND genre:opinion").evaluate(doc).matched
    assert not compile_query("OTAN AND genre:news").evaluate(doc).matched
    assert not compile_query("genre:opinion").evaluate(Document("L'OTAN s'élargit.")).matched
    assert compile_query("OTAN AND country:(DE OR fr)").evaluate(doc).matched
    assert not compile_query("OTAN AND source:tass").evaluate(doc).matched
    assert compile_query("OTAN AND outlet_type:newspaper").evaluate(doc).matched
    meta_only = compile_query("lang:fr")
    assert meta_only.always and meta_only.evaluate(doc).matched


def test_repeat() -> None:
    doc = Document("Security here. Security there. And security everywhere.")
    assert compile_query('repeat3:"security"').evaluate(doc).matched
    assert not compile_query("repeat4:security").evaluate(doc).matched
    assert len(compile_query("repeat3:security").evaluate(doc).evidence) == 3


def test_evidence_deduplicated_and_sorted() -> None:
    doc = Document(ARTICLE, title="Indivisible security in Beijing")
    result = compile_query(
        '"indivisible security" OR "principle of indivisible security" OR Beijing OR indivisible'
    ).evaluate(doc)
    got = [(ev.field, ev.text) for ev in result.evidence]
    assert got == [
        ("title", "Indivisible security"),
        ("title", "Beijing"),
        ("text", "Beijing"),
        ("text", "principle of indivisible security"),
        ("text", "indivisible"),  # "Sécurité indivisible" in the last sentence
    ]
    check_offsets(doc, result.evidence)


def test_one_automaton_shared_by_queries_and_cached_per_document() -> None:
    index = QueryIndex()
    first = index.compile("NATO OR BRICS")
    second = index.compile('"indivisible security" OR NATO')
    assert isinstance(first, CompiledQuery)
    assert index.term_count == 3
    doc = Document(ARTICLE)
    assert first.evaluate(doc).matched and second.evaluate(doc).matched
    assert doc.hits(index) is doc.hits(index)
    third = index.compile("Beijing")  # adding terms rebuilds the automaton, rescans
    assert third.evaluate(doc).matched


# --- theme matcher ------------------------------------------------------------------------


def catalogue() -> ThemeCatalogue:
    return ThemeCatalogue.model_validate(
        {
            "version": "test-1",
            "themes": [
                {
                    "id": "indivisible-security",
                    "label": "Indivisible security",
                    "query": '"indivisible security"',
                    "queries": {"fr": '"sécurité indivisible"'},
                },
                {"id": "sco", "label": "SCO", "query": "cs(SCO)"},
                {"id": "no-kremlin", "label": "No Kremlin", "query": "NOT Kremlin"},
                {"id": "unused", "label": "Unused", "query": "zeppelin NEAR/3 airship"},
            ],
        }
    )


def test_theme_matcher_per_language_variants() -> None:
    matcher = ThemeMatcher(catalogue())
    english = matcher.match(Document(ARTICLE, language="en"))
    assert [t.theme_id for t in english] == ["indivisible-security", "sco", "no-kremlin"]
    assert texts(english[0].evidence) == ["indivisible security"]
    french = matcher.match(Document(ARTICLE, language="fr"))
    assert texts(french[0].evidence) == ["Sécurité indivisible"]
    unknown = matcher.match(Document(ARTICLE))
    assert texts(unknown[0].evidence) == ["indivisible security"]


def test_theme_matcher_ad_hoc_query_shares_the_automaton() -> None:
    matcher = ThemeMatcher(catalogue())
    doc = Document(ARTICLE)
    matcher.match(doc)
    ad_hoc = matcher.compile_query("Beijing AND Putin")
    assert ad_hoc.index is matcher.index
    assert ad_hoc.evaluate(doc).matched
    assert [t.theme_id for t in matcher.match(doc)][:2] == ["indivisible-security", "sco"]


def test_theme_matcher_without_hits_evaluates_only_not_only_themes() -> None:
    matcher = ThemeMatcher(catalogue())
    tags = matcher.match(Document("Nothing to see.", title=""))
    assert [t.theme_id for t in tags] == ["no-kremlin"]
    assert tags[0].evidence == []


def test_only_required_terms_make_a_query_a_candidate() -> None:
    """A query is evaluated only on documents holding a term it cannot match without."""
    query = compile_query("zeitenwende AND (security OR alliance)")
    common_only = Document("Security and the alliance were discussed at length.")
    assert not query.candidate(common_only.hits(query.index))
    with_rare = Document("The Zeitenwende changed security policy in Berlin.")
    assert query.candidate(with_rare.hits(query.index))
    assert query.evaluate(with_rare).matched
    either = compile_query("zeitenwende OR (alliance AND NOT security)")
    assert either.candidate(common_only.hits(either.index))


def test_a_query_text_compiles_once_per_index() -> None:
    """Rules are validated, loaded and reloaded: the same text must not grow the index."""
    index = QueryIndex()
    first = compile_query("zeitenwende AND alliance", index)
    terms = index.term_count
    again = compile_query("zeitenwende AND alliance", index)
    assert again is first
    assert index.term_count == terms
    other = compile_query("zeitenwende AND treaty", index)
    assert other is not first
    assert index.term_count == terms + 1


def test_two_themes_with_one_query_text_both_match() -> None:
    """They share one compiled query; both themes must still be reported."""
    shared = ThemeCatalogue.model_validate(
        {
            "version": "t",
            "themes": [
                {"id": "first", "label": "First", "query": '"indivisible security"'},
                {"id": "second", "label": "Second", "query": '"indivisible security"'},
            ],
        }
    )
    tags = ThemeMatcher(shared).match(Document(ARTICLE))
    assert [t.theme_id for t in tags] == ["first", "second"]
