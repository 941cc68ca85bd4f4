"""The API's routes on the runtime's HTTP server (tokens and roles included).

Each handler validates its parameters with a model of :mod:`mediawatch.api.models`: a bad
parameter gets 400 with the parameter named, a query that does not parse 400 with the
position of the error, an unknown id 404. Store reads run in a worker thread, so a slow
query does not hold the event loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import typing
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from multidict import MultiMapping
from pydantic import BaseModel, ValidationError

from mediawatch.alerter.backtest import backtest
from mediawatch.alerter.rules import RulesError, load_rules, parse_rules_text
from mediawatch.api.fetchers import fetcher_health
from mediawatch.api.models import (
    AckBody,
    ActorBody,
    ActorParams,
    AlertParams,
    AlertsBody,
    AlertStreamParams,
    ArticleFilterParams,
    BacktestBody,
    BacktestResultBody,
    ErrorBody,
    ExportParams,
    MuteBody,
    QueryCheckBody,
    QueryCheckParams,
    RuleMuteBody,
    RulesBody,
    RulesCheckBody,
    RulesCheckResult,
    SearchBody,
    SearchHitBody,
    SearchParams,
    SourceHealthBody,
    SourcesBody,
    SourcesParams,
    TrendBody,
    TrendParams,
)
from mediawatch.api.settings import ApiSettings
from mediawatch.archiver.backends import describe, open_archive
from mediawatch.archiver.search import SearchError, SearchPage, search
from mediawatch.archiver.store import ArticleFilters, every_article
from mediawatch.query import MAX_QUERY_LENGTH, QuerySyntaxError, parse_query
from mediawatch.runtime.auth import Role
from mediawatch.runtime.http import ServiceHttpServer, principal_of
from mediawatch.runtime.kafka import consumer, partitions_of
from mediawatch.schemas import Alert, ArticleTagged

log = logging.getLogger(__name__)
P = TypeVar("P", bound=BaseModel)
#: Longest request line: a query of MAX_QUERY_LENGTH characters, each percent-encoded as up
#: to 12 bytes (a 4-byte UTF-8 character), with room for the filters.
MAX_REQUEST_LINE = 12 * MAX_QUERY_LENGTH + 16 * 1024


class BadRequest(Exception):
    def __init__(self, body: ErrorBody) -> None:
        self.body = body
        super().__init__(body.error)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def query_params(model: type[P], query: MultiMapping[str]) -> P:
    """``model`` from a query string: list fields from repeated or comma-separated values."""
    raw: dict[str, Any] = {}
    lists = {
        name
        for name, field in model.model_fields.items()
        if typing.get_origin(field.annotation) is list
    }
    for name in set(query):
        values = query.getall(name)
        if name in lists:
            raw[name] = [part for value in values for part in value.split(",") if part]
        else:
            raw[name] = values[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise BadRequest(ErrorBody(error=f"{where}: {first['msg']}", parameter=where)) from None


async def _body(model: type[P], request: web.Request) -> P:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(ErrorBody(error=f"{where}: {first['msg']}", parameter=where)) from None


def _filters(params: ArticleFilterParams) -> ArticleFilters:
    stances = []
    for value in params.stance:
        label, _, target = value.partition(":")
        stances.append((target, label))
    return ArticleFilters(
        since=params.since,
        until=params.until,
        sources=tuple(params.source),
        countries=tuple(c.upper() for c in params.country),
        outlet_types=tuple(params.outlet_type),
        languages=tuple(params.language),
        genres=tuple(params.genre),
        themes=tuple(params.theme),
        actors=tuple(params.actor),
        stances=tuple(stances),
        stories_only=params.stories_only,
    )


def _search_error(exc: SearchError) -> BadRequest:
    cause = exc.__cause__
    position = cause.position if isinstance(cause, QuerySyntaxError) else None
    parameter = "q" if position is not None else "cursor" if "cursor" in str(exc) else None
    return BadRequest(ErrorBody(error=str(exc), parameter=parameter, position=position))


def check_query(q: str) -> QueryCheckBody:
    """Whether ``q`` parses, and where and why not (the search form's check as you type)."""
    if not q.strip():  # no query: every article the filters let through
        return QueryCheckBody(valid=True)
    try:
        parse_query(q)
    except QuerySyntaxError as exc:
        return QueryCheckBody(
            valid=False, error=str(exc), position=exc.position, expected=exc.expected
        )
    return QueryCheckBody(valid=True)


class Api:
    """The routes over one archive file and one default rules file."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.store = open_archive(settings.resolved_archive_path(), settings.archive_url)

    # -- articles --------------------------------------------------------------------------
    async def search(self, request: web.Request) -> web.Response:
        page = await self.search_articles(query_params(SearchParams, request.query))
        hits = [SearchHitBody(article=h.article, evidence=h.evidence) for h in page.hits]
        return _json(SearchBody(articles=hits, next_cursor=page.next_cursor,
                                candidates_read=page.candidates_read))  # fmt: skip

    async def search_articles(self, params: SearchParams) -> SearchPage:
        """One page of a search (the JSON route's and the workspace's); :class:`BadRequest`
        naming the parameter and the position of a query error."""
        try:
            return await asyncio.to_thread(
                lambda: search(
                    self.store, params.q, _filters(params), limit=params.limit, cursor=params.cursor
                )
            )
        except SearchError as exc:
            raise _search_error(exc) from None

    async def article(self, request: web.Request) -> web.Response:
        article_id = request.match_info["article_id"]
        found = await asyncio.to_thread(lambda: self.store.article(article_id))
        if found is None:
            return _json(ErrorBody(error=f"no article {article_id!r} in the archive"), 404)
        assert isinstance(found, ArticleTagged)
        return _json(found)

    async def export(self, request: web.Request) -> web.StreamResponse:
        """Every matching article, streamed page by page (CSV rows or JSON Lines)."""
        params = query_params(ExportParams, request.query)
        filters = _filters(params)
        try:  # refuse a bad query before the 200 goes out
            first = await asyncio.to_thread(
                lambda: search(self.store, params.q, filters, limit=500)
            )
        except SearchError as exc:
            raise _search_error(exc) from None
        csv_out = params.format == "csv"
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8" if csv_out else "application/x-ndjson",
                "Content-Disposition": f'attachment; filename="mediawatch-export.{params.format}"',
            }
        )
        await response.prepare(request)
        columns = ["article_id", "fetched_at", "published_at", "source", "country",
                   "language", "genre", "title", "url", "themes", "actors", "evidence"]  # fmt: skip
        if csv_out:
            await response.write((",".join(columns) + "\r\n").encode())
        page, sent = first, 0
        while True:
            chunk = io.StringIO()
            writer = csv.writer(chunk)
            for hit in page.hits:
                ref = hit.article.article
                if csv_out:
                    writer.writerow(
                        [ref.article_id, ref.fetched_at.isoformat(),
                         ref.published_at.isoformat() if ref.published_at else "", ref.source.id,
                         ref.source.country or "", hit.article.language or "", ref.genre or "",
                         ref.title, ref.url or "",
                         " ".join(t.theme_id for t in hit.article.themes),
                         " ".join(a.actor_id for a in hit.article.actors),
                         " | ".join(e.text for e in hit.evidence[:5])]
                    )  # fmt: skip
                else:
                    line = SearchHitBody(article=hit.article, evidence=hit.evidence)
                    chunk.write(line.model_dump_json() + "\n")
            await response.write(chunk.getvalue().encode())
            sent += len(page.hits)
            if page.next_cursor is None or sent >= self.settings.api_max_export_rows:
                break
            page = await asyncio.to_thread(
                search, self.store, params.q, filters, limit=500, cursor=page.next_cursor
            )
        await response.write_eof()
        return response

    # -- alerts, trends, actors ---------------------------------------------------------------
    async def alerts(self, request: web.Request) -> web.Response:
        params = query_params(AlertParams, request.query)
        return _json(await self.alert_page(params))

    async def alert_page(self, params: AlertParams) -> AlertsBody:
        """The newest alerts the filters admit, with their acknowledgements and the rules
        muted now (the alert list of the API and of the workspace)."""
        reach = params.limit * (10 if params.filters_articles() else 1)

        def read() -> AlertsBody:
            found = self.store.alerts(
                rule_id=params.rule,
                severity=str(params.severity) if params.severity else None,
                since=params.since,
                until=params.until,
                limit=reach,
            )
            kept = [a for a in found if params.admits(a)][: params.limit]
            acks = self.store.alert_triage([a.alert_id for a in kept])
            return AlertsBody(
                alerts=kept,
                acknowledged={k: AckBody.model_validate(v.__dict__) for k, v in acks.items()},
                muted_rules=self._muted_now(),
            )

        return await asyncio.to_thread(read)

    def _muted_now(self) -> dict[str, RuleMuteBody]:
        mutes = self.store.rule_mutes(datetime.now(UTC))
        return {k: RuleMuteBody.model_validate(v.__dict__) for k, v in mutes.items()}

    async def muted_rules(self) -> dict[str, RuleMuteBody]:
        """The rules muted now, by rule id."""
        return await asyncio.to_thread(self._muted_now)

    async def acknowledge(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        ack = await self.acknowledge_alert(alert_id, principal_of(request).token_id)
        if ack is None:
            return _json(ErrorBody(error=f"no alert {alert_id!r} in the archive"), 404)
        return _json(ack)

    async def acknowledge_alert(self, alert_id: str, by: str) -> AckBody | None:
        """Acknowledge the alert now (the first acknowledgement stays); the acknowledgement
        as stored, None for an alert the archive does not hold."""

        def write() -> AckBody | None:
            try:
                self.store.acknowledge_alert(alert_id, by, datetime.now(UTC))
            except KeyError:
                return None
            return AckBody.model_validate(self.store.alert_triage([alert_id])[alert_id].__dict__)

        return await asyncio.to_thread(write)

    async def mute(self, request: web.Request) -> web.Response:
        rule_id = request.match_info["rule_id"]
        body = await _body(MuteBody, request)
        return _json(await self.mute_rule(rule_id, body.minutes, principal_of(request).token_id))

    async def mute_rule(self, rule_id: str, minutes: int, by: str) -> RuleMuteBody:
        """Mute ``rule_id`` for ``minutes`` from now (0: unmute); the mute as stored."""
        now = datetime.now(UTC)
        until = now + timedelta(minutes=minutes)
        await asyncio.to_thread(lambda: self.store.mute_rule(rule_id, by, now, until))
        return RuleMuteBody(rule_id=rule_id, by=by, at=now, until=until)

    async def query_check(self, request: web.Request) -> web.Response:
        params = query_params(QueryCheckParams, request.query)
        return _json(check_query(params.q))

    async def sources(self, request: web.Request) -> web.Response:
        params = query_params(SourcesParams, request.query)
        return _json(await self.source_health(params.days))

    async def source_health(self, days: int) -> SourcesBody:
        """Each source's health as its fetchers report it, beside what the archive holds
        of it over the last ``days`` days."""
        since = datetime.now(UTC) - timedelta(days=days)
        reports, asked = await fetcher_health(self.settings)
        activity = {a.source_id: a for a in await asyncio.to_thread(
            lambda: self.store.source_activity(since)
        )}  # fmt: skip
        rows = []
        for source_id in sorted(set(reports) | set(activity)):
            report = reports.get(source_id)
            seen = activity.get(source_id)
            rows.append(
                SourceHealthBody(
                    source_id=source_id,
                    healthy=report.healthy if report else None,
                    last_success=report.last_success if report else None,
                    last_attempt=report.last_attempt if report else None,
                    last_error=report.last_error if report else None,
                    last_error_at=report.last_error_at if report else None,
                    articles=seen.articles if seen else 0,
                    last_fetched=seen.last_fetched if seen else None,
                    per_day=dict(seen.per_day) if seen else {},
                )
            )
        return SourcesBody(since=since, fetchers=asked, sources=rows)

    async def alerts_stream(self, request: web.Request) -> web.StreamResponse:
        """New alerts as Server-Sent Events of their JSON (see :meth:`stream_alerts`)."""
        params = query_params(AlertStreamParams, request.query)
        return await self.stream_alerts(request, params, _json_of_alert)

    async def stream_alerts(
        self,
        request: web.Request,
        params: AlertStreamParams,
        data_of: Callable[[Alert], Awaitable[str]],
    ) -> web.StreamResponse:
        """New alerts as Server-Sent Events, read from the alerts topic; ``data_of`` writes
        an event's data (the API's JSON, the workspace's rendered list item). Each event's id
        holds the topic position after it; a client that reconnects with it in
        ``Last-Event-ID`` gets every alert after that one, none twice."""
        resume = _positions(request.headers.get("Last-Event-ID"))
        topic = self.settings.topic_alerts
        reader = consumer(self.settings, group_id=None, auto_offset_reset="earliest")
        try:
            numbers = await partitions_of(self.settings, topic)
            await reader.start()
        except KafkaError as exc:  # the page says so and the browser retries; no traceback
            log.warning("alert stream: Kafka unreachable", extra={"error": str(exc)})
            await reader.stop()
            error = ErrorBody(error=f"the alerts topic {topic!r} cannot be read: {exc}")
            return _json(error, 503)
        partitions = [TopicPartition(topic, n) for n in numbers]
        try:
            reader.assign(partitions)
            ends = await reader.end_offsets(partitions)
            firsts = await reader.beginning_offsets(partitions)
            for tp in partitions:
                if tp.partition in resume:
                    reader.seek(tp, max(firsts[tp], resume[tp.partition]))
                else:
                    reader.seek(tp, firsts[tp] if params.start == "beginning" else ends[tp])
            positions = {tp.partition: await reader.position(tp) for tp in partitions}
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            await response.write(b": connected\n\n")
            quiet_since = asyncio.get_running_loop().time()
            while True:
                batches = await reader.getmany(timeout_ms=1000, max_records=100)
                now = asyncio.get_running_loop().time()
                if not batches and now - quiet_since >= SSE_KEEPALIVE_S:
                    await response.write(b": keepalive\n\n")  # proxies keep the stream open
                    quiet_since = now
                for tp, records in batches.items():
                    for record in records:
                        positions[tp.partition] = record.offset + 1
                        alert = _alert_of(record.value)
                        if alert is None or not params.admits(alert):
                            continue
                        event_id = ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))
                        data = await data_of(alert)
                        lines = "".join(f"data: {line}\n" for line in data.splitlines())
                        await response.write(f"id: {event_id}\nevent: alert\n{lines}\n".encode())
                        quiet_since = now
        except (ConnectionResetError, asyncio.CancelledError):
            raise asyncio.CancelledError from None
        finally:
            await reader.stop()

    async def trends(self, request: web.Request) -> web.Response:
        params = query_params(TrendParams, request.query)
        theme = params.theme[0] if len(params.theme) == 1 else None
        if len(params.theme) > 1:
            raise BadRequest(ErrorBody(error="theme: one theme per trend", parameter="theme"))
        filters = _filters(params.model_copy(update={"theme": []}))
        points = await asyncio.to_thread(lambda: self.store.trend(theme, params.group, filters))
        return _json(TrendBody.model_validate(
            {"theme": theme, "group": params.group, "points": [p.__dict__ for p in points]}
        ))  # fmt: skip

    async def actor(self, request: web.Request) -> web.Response:
        actor_id = request.match_info["actor_id"]
        params = query_params(ActorParams, request.query)
        timeline = await asyncio.to_thread(
            lambda: self.store.actor_timeline(
                actor_id, _filters(params), co_occurring=params.co_occurring
            )
        )
        if not timeline.days:
            return _json(ErrorBody(error=f"no article mentions actor {actor_id!r}"), 404)
        return _json(ActorBody.model_validate({
            "actor_id": actor_id,
            "days": [d.__dict__ for d in timeline.days],
            "co_occurring": [{"actor_id": a, "articles": n} for a, n in timeline.co_occurring],
        }))  # fmt: skip

    # -- rules -----------------------------------------------------------------------------
    async def rules(self, request: web.Request) -> web.Response:
        try:
            ruleset = load_rules(self.settings.rules_file)
        except RulesError as exc:
            return _json(ErrorBody(error=f"the API's rules file is not valid: {exc}"), 500)
        return _json(RulesBody(
            path=str(self.settings.rules_file), content_hash=ruleset.content_hash,
            rules=[rule.model_dump(mode="json") for rule in ruleset.rules],
        ))  # fmt: skip

    async def rules_check(self, request: web.Request) -> web.Response:
        body = await _body(RulesCheckBody, request)
        try:
            ruleset = parse_rules_text(body.rules_yaml, "rules_yaml")
        except RulesError as exc:
            return _json(RulesCheckResult(valid=False, problems=exc.problems,
                                          content_hash=None, rules=0))  # fmt: skip
        return _json(RulesCheckResult(valid=True, problems=[], content_hash=ruleset.content_hash,
                                      rules=len(ruleset.rules)))  # fmt: skip

    async def rules_backtest(self, request: web.Request) -> web.Response:
        body = await _body(BacktestBody, request)
        try:
            ruleset = (
                parse_rules_text(body.rules_yaml, "rules_yaml")
                if body.rules_yaml is not None
                else load_rules(self.settings.rules_file)
            )
        except RulesError as exc:
            raise BadRequest(
                ErrorBody(error="; ".join(exc.problems), parameter="rules_yaml")
            ) from None
        filters = ArticleFilters(since=body.since, until=body.until)
        articles = await asyncio.to_thread(lambda: list(every_article(self.store, filters)))
        result = await backtest(ruleset, articles, until=body.until)
        return _json(BacktestResultBody(
            rules_version=ruleset.content_hash, articles_read=result.articles_read,
            matches=result.matches, alerts=result.alerts, per_rule=result.per_rule(),
            per_day=result.per_day(),
        ))  # fmt: skip

    async def openapi(self, request: web.Request) -> web.Response:
        from mediawatch.api.openapi import committed_document

        return web.json_response(committed_document())


#: Seconds without an alert after which the stream sends a comment line.
SSE_KEEPALIVE_S = 15.0


def _positions(header: str | None) -> dict[int, int]:
    """The partition -> next offset map of a ``Last-Event-ID`` header (``0:12,1:7``)."""
    if not header:
        return {}
    positions: dict[int, int] = {}
    for part in header.split(","):
        partition, _, offset = part.strip().partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise BadRequest(
                ErrorBody(
                    error=f"Last-Event-ID {header[:80]!r} is not one this stream gave out",
                    parameter="Last-Event-ID",
                )
            )
        positions[int(partition)] = int(offset)
    return positions


async def _json_of_alert(alert: Alert) -> str:
    return alert.to_json().decode()


def _alert_of(value: bytes | None) -> Alert | None:
    if value is None:
        return None
    try:
        return Alert.from_json(value)
    except ValueError as exc:
        log.warning("unreadable alert left out of the stream", extra={"error": str(exc)[:300]})
        return None


@web.middleware
async def _bad_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadRequest as exc:
        return _json(exc.body, 400)


#: (method, path, handler name, role): every route of the API, for the server and the
#: OpenAPI document alike.
ROUTES: tuple[tuple[str, str, str, Role | None], ...] = (
    ("GET", "/v1/articles", "search", Role.VIEWER),
    ("GET", "/v1/articles/{article_id}", "article", Role.VIEWER),
    ("GET", "/v1/export", "export", Role.VIEWER),
    ("GET", "/v1/alerts", "alerts", Role.VIEWER),
    ("GET", "/v1/alerts/stream", "alerts_stream", Role.VIEWER),
    ("POST", "/v1/alerts/{alert_id}/ack", "acknowledge", Role.EDITOR),
    ("POST", "/v1/rules/{rule_id}/mute", "mute", Role.EDITOR),
    ("GET", "/v1/query/check", "query_check", Role.VIEWER),
    ("GET", "/v1/sources", "sources", Role.VIEWER),
    ("GET", "/v1/trends", "trends", Role.VIEWER),
    ("GET", "/v1/actors/{actor_id}", "actor", Role.VIEWER),
    ("GET", "/v1/rules", "rules", Role.VIEWER),
    ("POST", "/v1/rules/check", "rules_check", Role.EDITOR),
    ("POST", "/v1/rules/backtest", "rules_backtest", Role.EDITOR),
    ("GET", "/v1/openapi.json", "openapi", None),
)


def build_server(settings: ApiSettings) -> tuple[ServiceHttpServer, Api]:
    api = Api(settings)
    server = ServiceHttpServer.for_service(
        settings,
        readiness=lambda: (
            True,
            f"archive {describe(settings.resolved_archive_path(), settings.archive_url)}",
        ),
        # A query of the longest length the language accepts, percent-encoded, fits.
        max_line_size=MAX_REQUEST_LINE,
    )
    server.app.middlewares.append(_bad_requests)
    for method, path, name, role in ROUTES:
        server.add_route(method, path, getattr(api, name), role=role)
    from mediawatch.api.web import add_workspace

    add_workspace(server, api)
    return server, api


async def serve(settings: ApiSettings) -> None:
    import signal

    if settings.archive_url is None:
        settings.resolved_archive_path().parent.mkdir(parents=True, exist_ok=True)
    server, api = build_server(settings)
    await server.start()
    log.info("api listening", extra={"host": server.host, "port": server.port})
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await server.stop()
        api.store.close()


def run(settings: ApiSettings) -> None:
    from mediawatch.runtime.logs import configure_logging

    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    asyncio.run(serve(settings))
