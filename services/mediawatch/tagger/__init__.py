"""The tagger service: themes (query language compiled into one automaton), actors and stance.

``mediawatch.tagger.text`` normalises text with an offset map and finds tokens and sentences,
``mediawatch.tagger.query`` parses the theme query language, ``mediawatch.tagger.matcher``
compiles queries and matches them against articles, ``mediawatch.tagger.themes`` loads the
theme catalogue.
"""
