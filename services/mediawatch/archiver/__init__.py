"""The archiver: every tagged article and every alert, kept and searchable.

A sibling of the fetcher, the tagger and the alerter: it imports ``schemas``, ``runtime`` and
``query``, never another service. ``service`` consumes the tagged-articles and alerts topics
into a store (``store`` says what one is; ``sqlite`` is the embedded one) and ``search``
answers queries in the language of themes and rules.
"""
