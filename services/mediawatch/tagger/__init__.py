"""The tagger service: themes (query language compiled into one automaton), actors and stance.

The query language, its matcher and the text splitting live in ``mediawatch.query``, which the
alerter shares; ``mediawatch.tagger.themes`` loads the theme catalogue and matches all its
themes in one automaton pass.
"""
