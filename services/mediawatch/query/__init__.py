"""The mediawatch query library: the query language, its matcher and the text it reads.

Themes (tagger), rules (alerter) and archive searches share one language, so they share one
implementation, on the ground floor beside ``mediawatch.runtime`` and ``mediawatch.schemas``;
no service imports another to match a query. The modules behind this package are private; what
is listed here is the whole public surface:

- the language: ``parse_query`` turns a query into a syntax tree of ``Term``, ``And``, ``Or``,
  ``Not``, ``Near``, ``Meta`` and ``Repeat`` nodes, or raises ``QuerySyntaxError`` with the
  position of the problem (``docs/query-language.md``);
- matching: ``compile_query`` into a ``QueryIndex`` (one automaton for every term of every
  query compiled into it; a query text compiles once per index), evaluated on a ``Document``;
- text: the normalisation with an offset map, word tokens and the one sentence splitter that
  every stage uses;
- themes: a versioned catalogue of named queries with per-language variants (the built-in
  one ships as package data), matched all at once by ``ThemeMatcher``;
- morphology: Russian lemmas (pymorphy3) and Snowball stems, so that a ``ru`` or ``fr`` query
  term need not spell out its case endings (``stem_query``), and names can be matched on lemmas.
"""

from mediawatch.query._matcher import (
    MAX_PROXIMITY_RESULTS,
    CompiledQuery,
    Document,
    FieldText,
    QueryIndex,
    QueryResult,
    Scan,
    compile_query,
)
from mediawatch.query._morphology import (
    LemmaText,
    lemma,
    lemma_variants,
    lemmatise,
    name_gender,
    nominative,
    russian_case,
    stem_query,
)
from mediawatch.query._syntax import (
    MAX_DEPTH,
    MAX_DISTANCE,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    META_FIELDS,
    TEXT_FIELDS,
    And,
    Meta,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Repeat,
    Term,
    iter_terms,
    parse_query,
)
from mediawatch.query._text import (
    TOKEN_RE,
    NormalisedText,
    fold,
    normalise,
    sentence_of,
    sentence_spans,
    token_spans,
    tokenise,
)
from mediawatch.query._themes import (
    ThemeCatalogue,
    ThemeCatalogueError,
    ThemeDefinition,
    ThemeMatcher,
    builtin_themes_file,
    load_theme_catalogue,
    validate_catalogue,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_DISTANCE",
    "MAX_PROXIMITY_RESULTS",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "META_FIELDS",
    "TEXT_FIELDS",
    "TOKEN_RE",
    "And",
    "CompiledQuery",
    "Document",
    "FieldText",
    "LemmaText",
    "Meta",
    "Near",
    "Node",
    "NormalisedText",
    "Not",
    "Or",
    "QueryIndex",
    "QueryResult",
    "QuerySyntaxError",
    "Repeat",
    "Scan",
    "Term",
    "ThemeCatalogue",
    "ThemeCatalogueError",
    "ThemeDefinition",
    "ThemeMatcher",
    "builtin_themes_file",
    "compile_query",
    "fold",
    "iter_terms",
    "lemma",
    "lemma_variants",
    "lemmatise",
    "load_theme_catalogue",
    "name_gender",
    "nominative",
    "normalise",
    "parse_query",
    "russian_case",
    "sentence_of",
    "sentence_spans",
    "stem_query",
    "token_spans",
    "tokenise",
    "validate_catalogue",
]
