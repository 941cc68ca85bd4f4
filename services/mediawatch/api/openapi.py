"""The API's OpenAPI 3.1 document, built from :data:`mediawatch.api.app.ROUTES` and the
pydantic models that validate each request and describe each response.

``mediawatch api openapi`` prints it; the copy committed as package data
(``data/openapi.json``) is what ``GET /v1/openapi.json`` serves, and a test fails when the
two drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mediawatch.api import models
from mediawatch.runtime.auth import Role

#: Route handler -> (query parameter model, request body model, response model).
SHAPES: dict[str, tuple[type[BaseModel] | None, type[BaseModel] | None, type[BaseModel] | None]] = {
    "search": (models.SearchParams, None, models.SearchBody),
    "article": (None, None, None),  # an ArticleTagged, referenced below
    "export": (models.ExportParams, None, None),
    "alerts": (models.AlertParams, None, models.AlertsBody),
    "alerts_stream": (models.AlertStreamParams, None, None),
    "trends": (models.TrendParams, None, models.TrendBody),
    "actor": (models.ActorParams, None, models.ActorBody),
    "rules": (None, None, models.RulesBody),
    "rules_check": (None, models.RulesCheckBody, models.RulesCheckResult),
    "rules_backtest": (None, models.BacktestBody, models.BacktestResultBody),
    "acknowledge": (None, None, models.AckBody),
    "mute": (None, models.MuteBody, models.RuleMuteBody),
    "query_check": (models.QueryCheckParams, None, models.QueryCheckBody),
    "sources": (models.SourcesParams, None, models.SourcesBody),
    "openapi": (None, None, None),
}
SUMMARIES = {
    "search": "Search the archive in the query language, with filters and cursor paging",
    "article": "One archived article with all its tags and evidence",
    "export": "Every matching article, streamed as CSV or JSON Lines",
    "alerts": "Archived alerts, newest first",
    "alerts_stream": "New alerts as Server-Sent Events, resumable with Last-Event-ID",
    "trends": "Stories (not reprints) per day, of one theme, split by a source column",
    "actor": "An actor's mentions and stance per day, and the actors seen with it",
    "rules": "The rules file the API serves",
    "rules_check": "Validate a rules file's text",
    "rules_backtest": "The alerts a rules file would have fired on the archive",
    "acknowledge": "Acknowledge an alert (the first acknowledgement stays)",
    "mute": "Mute a rule's alerts in the workspace for some minutes (0 unmutes)",
    "query_check": "Whether a query parses, and where and why not",
    "sources": "Each source's health from its fetchers, with its archived articles per day",
    "openapi": "This document",
}


#: The header a reconnecting event-stream client sends: the id of the last event it got.
RESUME_HEADER: dict[str, Any] = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": r"^\d+:\d+(,\d+:\d+)*$"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def build_document() -> dict[str, Any]:
    from mediawatch.api.app import ROUTES
    from mediawatch.schemas import ArticleTagged

    named: list[type[BaseModel]] = [models.ErrorBody, ArticleTagged]
    for query, body, response in SHAPES.values():
        named += [m for m in (query, body, response) if m is not None]
    unique = list(dict.fromkeys(named))
    _, definitions = models_json_schema(
        [(m, "validation" if m in _inputs() else "serialization") for m in unique],
        ref_template="#/components/schemas/{model}",
    )
    schemas = definitions.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for method, path, name, role in ROUTES:
        query, body, response = SHAPES[name]
        operation: dict[str, Any] = {"operationId": name, "summary": SUMMARIES[name]}
        parameters = [
            {"name": part.strip("{}"), "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1}}
            for part in path.split("/") if part.startswith("{")
        ]  # fmt: skip
        if query is not None:
            for field, schema in schemas[query.__name__]["properties"].items():
                parameter: dict[str, Any] = {"name": field, "in": "query", "schema": schema}
                if schema.get("type") == "array":
                    parameter |= {"style": "form", "explode": True}
                parameters.append(parameter)
        if name == "alerts_stream":
            parameters.append(RESUME_HEADER)
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(body.__name__)}},
            }
        if name == "article":
            ok = {"application/json": {"schema": _ref("ArticleTagged")}}
        elif name == "export":
            ok = {"application/x-ndjson": {"schema": {"type": "string"}},
                  "text/csv": {"schema": {"type": "string"}}}  # fmt: skip
        elif name == "alerts_stream":
            ok = {"text/event-stream": {"schema": {"type": "string"}}}
        elif name == "openapi":
            ok = {"application/json": {"schema": {"type": "object"}}}
        else:
            assert response is not None
            ok = {"application/json": {"schema": _ref(response.__name__)}}
        error = {"application/json": {"schema": _ref("ErrorBody")}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": ok}}
        if query is not None or body is not None:
            responses["400"] = {"description": "A bad parameter or query", "content": error}
        if "{" in path:
            responses["404"] = {"description": "Not in the archive", "content": error}
        if role is not None:
            responses["401"] = {"description": "No valid token", "content": error}
            responses["403"] = {"description": f"The token's role does not grant {role}",
                                "content": error}  # fmt: skip
            operation["security"] = [{"bearer": []}]
            operation["x-mediawatch-role"] = str(role)
        operation["responses"] = responses
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mediawatch API",
            "version": "1",
            "description": "The archive of tagged articles and alerts, searched in the query "
            "language of themes and rules; rule checks and backtests. Bearer tokens of "
            f"`mediawatch tokens create`: {Role.VIEWER} reads, {Role.EDITOR} checks and "
            "backtests rules.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _inputs() -> set[type[BaseModel]]:
    return {m for query, body, _ in SHAPES.values() for m in (query, body) if m is not None}


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def committed_document() -> dict[str, Any]:
    text = (resources.files("mediawatch.api") / "data" / "openapi.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded
