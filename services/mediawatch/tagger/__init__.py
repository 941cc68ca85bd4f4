"""The tagger service: themes (query language compiled into one automaton), actors and stance.

The query language, its matcher, the theme catalogue and the text splitting live in
``mediawatch.query``, which the alerter shares.
"""
