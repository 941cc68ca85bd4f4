"""The REST API over the archive: search, articles, alerts, trends, actors, exports, rules
and backtests (``mediawatch api run``).

It composes the archiver's store and the alerter's rules and evaluator, so it sits above the
services beside the command line; no service imports it. Every route but the probes needs a
token of the runtime's token system: ``viewer`` to read, ``editor`` to check rules and run
backtests. ``openapi`` builds the OpenAPI 3 document from the same pydantic models that
validate the requests; the committed copy (``data/openapi.json``) is drift-tested.
"""
