"""The analysts' workspace: server-rendered pages under ``/`` of the API service.

Every page is plain HTML from a Jinja template (escaped by default) and works without
script; ``static/workspace.js`` adds what needs it: alerts arriving over the SSE stream,
the query check as you type, and the charts (uPlot, vendored). Pages read the archive
through the same :class:`~mediawatch.api.app.Api` methods as the JSON routes, so the two
cannot drift.

Security: a login form exchanges a token for a session cookie (:mod:`runtime.sessions`);
viewer pages need ``viewer``, every change ``editor``, and each change form carries the
session's CSRF token. Every response carries a Content-Security-Policy that allows scripts,
styles and connections from this origin only, with no ``unsafe-inline`` anywhere.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import mimetypes
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from multidict import MultiDict
from pydantic import ValidationError

from mediawatch.alerter.backtest import backtest
from mediawatch.alerter.rules import RulesError, load_rules
from mediawatch.api.app import Api, BadRequest, check_query, query_params
from mediawatch.api.models import (
    AlertParams,
    AlertsBody,
    AlertStreamParams,
    MuteBody,
    SearchParams,
)
from mediawatch.api.web import highlight, rules_file
from mediawatch.archiver.store import ArticleFilters, TrendGroup, every_article
from mediawatch.runtime.auth import AuthError, Role
from mediawatch.runtime.http import PRINCIPAL, SESSION, ServiceHttpServer
from mediawatch.runtime.sessions import CSRF_FIELD, SESSION_COOKIE, SessionStore
from mediawatch.schemas import Alert, ArticleTagged

#: The policy of every response: nothing inline, nothing from elsewhere, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: The login form's own CSRF cookie (a login form is a change too: without it another
#: site could log a browser into the attacker's session).
LOGIN_COOKIE = "mw_login"
#: How long a muted rule stays muted, as the alert list offers it.
MUTE_CHOICES = ((60, "1 hour"), (8 * 60, "8 hours"), (24 * 60, "1 day"), (7 * 24 * 60, "1 week"))
STATIC_FILES = frozenset(
    {
        "workspace.css",
        "workspace.js",
        "vendor/uplot/uPlot.iife.min.js",
        "vendor/uplot/uPlot.min.css",
        "vendor/uplot/LICENSE",
    }
)
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mediawatch.api.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = _when
    environment.filters["query"] = lambda items: urlencode(
        [(k, v) for k, v in items if v not in (None, "")]
    )
    return environment


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _days(value: object, *, default: int, most: int) -> int:
    """A period in days from a form or query value, held to 1..``most``; ``default`` for
    one that is not a whole number."""
    try:
        return max(1, min(most, int(str(value))))
    except ValueError:
        return default


def _local(target: str | None) -> str:
    """``target`` if it is a path of this site (never ``//elsewhere``), else ``/``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@web.middleware
async def security_headers(request: web.Request, handler: PageHandler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if isinstance(response, web.HTTPException):
        raise response
    return response


class Workspace:
    """The pages, over one :class:`Api` and one session store."""

    def __init__(self, api: Api, sessions: SessionStore) -> None:
        self.api = api
        self.sessions = sessions
        self.templates = _environment()

    # -- rendering -------------------------------------------------------------------------
    def render(
        self, request: web.Request, template: str, status: int = 200, **values: Any
    ) -> web.Response:
        principal = request.get(PRINCIPAL)
        session = request.get(SESSION)
        page = self.templates.get_template(template).render(
            principal=principal,
            csrf_token=session.csrf_token if session else "",
            csrf_field=CSRF_FIELD,
            can_edit=principal is not None and principal.has(Role.EDITOR),
            path=request.path_qs,
            **values,
        )
        return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")

    async def refused(self, request: web.Request, error: AuthError) -> web.StreamResponse:
        """A page refused: to the login form without a session, an error page without the
        role."""
        if error.status == 401:
            raise web.HTTPSeeOther(f"/login?{urlencode({'next': request.path_qs})}")
        return self.render(
            request, "error.html", error.status, title="Not allowed", message=error.message
        )

    # -- login -----------------------------------------------------------------------------
    async def login_form(
        self,
        request: web.Request,
        *,
        error: str = "",
        status: int = 200,
    ) -> web.Response:
        nonce = secrets.token_urlsafe(24)
        response = self.render(
            request,
            "login.html",
            status,
            title="Log in",
            login_nonce=nonce,
            error=error,
            next=_local(request.query.get("next")),
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            httponly=True,
            samesite="Strict",
            path="/login",
            secure=self._secure(request),
        )
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        presented = str(form.get("login_nonce", ""))
        if not nonce or not hmac.compare_digest(nonce, presented):
            return await self.login_form(
                request, error="The login form expired: try again.", status=403
            )
        try:
            session, _ = self.sessions.open(str(form.get("token", "")))
        except AuthError as exc:
            return await self.login_form(request, error=f"Login refused: {exc.message}", status=401)
        response = web.HTTPSeeOther(_local(str(form.get("next", "/"))))
        response.set_cookie(
            SESSION_COOKIE,
            session.session_id,
            httponly=True,
            samesite="Strict",
            path="/",
            secure=self._secure(request),
            max_age=int(self.sessions.ttl_s),
        )
        response.del_cookie(LOGIN_COOKIE, path="/login")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request[SESSION].session_id)
        response = web.HTTPSeeOther("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    def _secure(self, request: web.Request) -> bool:
        return request.secure or self.api.settings.session_cookie_secure

    # -- alerts ----------------------------------------------------------------------------
    async def alerts(self, request: web.Request) -> web.Response:
        raw = {k: v for k, v in request.query.items() if v and k != "limit"}
        try:  # the JSON route's parameter model and its error naming the parameter
            params = query_params(AlertParams, MultiDict({**raw, "limit": "100"}))
        except BadRequest as exc:
            return self.render(
                request, "error.html", 400, title="Bad filter", message=exc.body.error
            )
        page = await self.api.alert_page(params)
        stream = urlencode(
            {
                k: v
                for k, v in raw.items()
                if k in AlertParams.model_fields and k not in ("since", "until")
            }
        )
        return self.render(
            request,
            "alerts.html",
            title="Alerts",
            page=page,
            filters=raw,
            stream_query=stream,
            mute_choices=MUTE_CHOICES,
        )

    async def live_alerts(self, request: web.Request) -> web.StreamResponse:
        """The alert list's live updates: each new alert its filters admit, as the list item
        the page itself renders (``_alert.html``, the one template of an alert), with the
        triage forms this visitor may use."""
        try:
            params = query_params(AlertStreamParams, request.query)
        except BadRequest as exc:
            return self.render(
                request, "error.html", 400, title="Bad filter", message=exc.body.error
            )
        principal, session = request[PRINCIPAL], request.get(SESSION)
        item = self.templates.get_template("_alert.html")
        back = f"/alerts?{request.query_string}" if request.query_string else "/alerts"

        async def item_of(alert: Alert) -> str:
            page = AlertsBody(alerts=[alert], muted_rules=await self.api.muted_rules())
            return item.render(
                alert=alert,
                page=page,
                can_edit=principal.has(Role.EDITOR),
                csrf_token=session.csrf_token if session else "",
                csrf_field=CSRF_FIELD,
                path=back,
                mute_choices=MUTE_CHOICES,
            )

        return await self.api.stream_alerts(request, params, item_of)

    async def acknowledge(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        alert_id = request.match_info["alert_id"]
        if await self.api.acknowledge_alert(alert_id, request[PRINCIPAL].token_id) is None:
            return self.render(
                request,
                "error.html",
                404,
                title="No such alert",
                message=f"no alert {alert_id!r} in the archive",
            )
        raise web.HTTPSeeOther(_local(str(form.get("back", "/alerts"))))

    async def mute(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        try:  # the JSON route's body model, so both take the same minutes
            minutes = MuteBody.model_validate({"minutes": form.get("minutes", "")}).minutes
        except ValidationError as exc:
            return self.render(
                request,
                "error.html",
                400,
                title="Bad mute",
                message=f"minutes: {exc.errors()[0]['msg']}",
            )
        rule_id = str(form.get("rule", "")).strip()
        if not rule_id:
            return self.render(
                request, "error.html", 400, title="Bad mute", message="rule: which rule to mute"
            )
        await self.api.mute_rule(rule_id, minutes, request[PRINCIPAL].token_id)
        raise web.HTTPSeeOther(_local(str(form.get("back", "/alerts"))))

    # -- articles --------------------------------------------------------------------------
    async def article(self, request: web.Request) -> web.Response:
        article_id = request.match_info["article_id"]
        store = self.api.store
        tagged = await asyncio.to_thread(lambda: store.article(article_id))
        if tagged is None:
            return self.render(
                request,
                "error.html",
                404,
                title="No such article",
                message=f"no article {article_id!r} in the archive",
            )
        assert isinstance(tagged, ArticleTagged)
        original = tagged.article.duplicate_of
        reprints = await asyncio.to_thread(lambda: store.reprints_of(article_id))
        original_stored = (
            await asyncio.to_thread(lambda: store.article(original)) if original else None
        )
        return self.render(
            request,
            "article.html",
            title=tagged.article.title or article_id,
            tagged=tagged,
            ref=tagged.article,
            headline=highlight.segments(
                tagged.article.title, highlight.article_spans(tagged, "title")
            ),
            body=highlight.segments(
                tagged.text, highlight.article_spans(tagged), offset=tagged.text_start
            ),
            reprints=reprints,
            original=original,
            original_stored=original_stored,
        )

    # -- search ----------------------------------------------------------------------------
    async def search_page(self, request: web.Request) -> web.Response:
        values = {k: v for k, v in request.query.items() if v}
        hits: list[Any] = []
        next_cursor = problem = None
        check = check_query(values.get("q", ""))
        if values and check.valid:
            try:
                params = query_params(
                    SearchParams, MultiDict((k, v) for k, v in request.query.items() if v)
                )
                found = await self.api.search_articles(params)
                hits = [(h, [highlight.snippet(e) for e in h.evidence[:3]]) for h in found.hits]
                next_cursor = found.next_cursor
            except BadRequest as exc:
                problem = exc.body.error
        kept = [(k, v) for k, v in values.items() if k != "cursor"]
        exported = [(k, v) for k, v in kept if k != "limit"]
        return self.render(
            request,
            "search.html",
            title="Search",
            values=values,
            hits=hits,
            check=check,
            problem=problem,
            kept=kept,
            exported=exported,
            next_cursor=next_cursor,
        )

    # -- rules -----------------------------------------------------------------------------
    async def rules(self, request: web.Request) -> web.Response:
        path = self.api.settings.rules_file
        try:
            ruleset = load_rules(path)
        except RulesError as exc:
            return self.render(
                request,
                "error.html",
                500,
                title="Rules file not valid",
                message="; ".join(exc.problems),
            )
        store = self.api.store

        def recent() -> dict[str, Any]:
            return {r.id: store.alerts(rule_id=r.id, limit=3) for r in ruleset.rules}

        last = await asyncio.to_thread(recent)
        mutes = await asyncio.to_thread(lambda: store.rule_mutes(datetime.now(UTC)))
        return self.render(
            request,
            "rules.html",
            title="Rules",
            ruleset=ruleset,
            last=last,
            mutes=mutes,
            saved=request.query.get("saved"),
            mute_choices=MUTE_CHOICES,
        )

    async def rule_editor(self, request: web.Request) -> web.Response:
        rule_id = request.match_info.get("rule_id")
        path = self.api.settings.rules_file
        text = (
            rules_file.NEW_RULE_TEMPLATE if rule_id is None else rules_file.rule_text(path, rule_id)
        )
        if text is None:
            return self.render(
                request,
                "error.html",
                404,
                title="No such rule",
                message=f"no rule {rule_id!r} in {path}",
            )
        return self.render(
            request,
            "rule_edit.html",
            title=f"Rule {rule_id or '(new)'}",
            rule_id=rule_id,
            text=text,
            base_hash=rules_file.current_hash(path),
            problems=[],
            preview=None,
            days=7,
        )

    async def rule_submit(self, request: web.Request) -> web.Response:
        """Check and preview (``action=preview``) or save (``action=save``) one rule."""
        form = await request.post()
        rule_id = request.match_info.get("rule_id")
        path = self.api.settings.rules_file
        text = str(form.get("rule_yaml", ""))
        base_hash = str(form.get("base_hash", ""))
        days = _days(form.get("days"), default=7, most=90)
        shown: dict[str, Any] = {
            "rule_id": rule_id,
            "text": text,
            "base_hash": base_hash,
            "days": days,
            "title": f"Rule {rule_id or '(new)'}",
        }
        try:
            rule_draft = rules_file.draft(path, rule_id, text)
        except RulesError as exc:
            return self.render(
                request, "rule_edit.html", 422, problems=exc.problems, preview=None, **shown
            )
        if rule_id is None and rule_draft.rule_id in {r.id for r in load_rules(path).rules}:
            return self.render(
                request,
                "rule_edit.html",
                422,
                preview=None,
                **shown,
                problems=[f"id: a rule {rule_draft.rule_id!r} exists already"],
            )
        if form.get("action") == "save":
            try:
                rules_file.save(path, rule_draft, base_hash)
            except OSError as exc:  # a read-only mount, a full disk
                return self.render(
                    request, "rule_edit.html", 500, preview=None, **shown,
                    problems=[f"{path} cannot be written here: {exc.strerror or exc}"],
                )  # fmt: skip
            except rules_file.RuleEditConflict as exc:
                return self.render(
                    request, "rule_edit.html", 409, problems=[str(exc)], preview=None, **shown
                )
            raise web.HTTPSeeOther(f"/rules?{urlencode({'saved': rule_draft.rule_id})}")
        until = datetime.now(UTC)
        since = until - timedelta(days=days)
        only = rule_draft.ruleset.model_copy(
            update={"rules": [r for r in rule_draft.ruleset.rules if r.id == rule_draft.rule_id]}
        )
        articles = await asyncio.to_thread(
            lambda: list(every_article(self.api.store, ArticleFilters(since=since, until=until)))
        )
        result = await backtest(only, articles, until=until)
        return self.render(request, "rule_edit.html", problems=[], preview=result, **shown)

    # -- trends, actors, sources -----------------------------------------------------------
    async def trends(self, request: web.Request) -> web.Response:
        themes = [t for t in request.query.getall("theme", []) if t][:8]
        chosen = request.query.get("group")
        group: TrendGroup | None = (
            "country" if chosen == "country" else "source" if chosen == "source" else None
        )
        days = _days(request.query.get("days"), default=30, most=365)
        since = (datetime.now(UTC) - timedelta(days=days - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        day_names = [(since + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
        store = self.api.store
        known = await asyncio.to_thread(lambda: store.theme_counts(since))
        charts = []
        for theme in themes:
            points = await asyncio.to_thread(store.trend, theme, group, ArticleFilters(since=since))
            by_group: dict[str, dict[str, int]] = {}
            for point in points:
                by_group.setdefault(point.group or "all", {})[point.day] = point.stories
            top = sorted(by_group, key=lambda g: -sum(by_group[g].values()))
            series = [
                {"name": g, "values": [by_group[g].get(d, 0) for d in day_names]} for g in top[:8]
            ]
            if len(top) > 8:
                rest = [sum(by_group[g].get(d, 0) for g in top[8:]) for d in day_names]
                series.append({"name": "other", "values": rest})
            charts.append(
                {
                    "theme": theme,
                    "series": series,
                    "data": json.dumps({"days": day_names, "series": series}),
                }
            )
        return self.render(
            request,
            "trends.html",
            title="Trends",
            charts=charts,
            themes=themes,
            group=group,
            days=days,
            known=known,
        )

    async def actor(self, request: web.Request) -> web.Response:
        actor_id = request.match_info["actor_id"]
        days = _days(request.query.get("days"), default=30, most=365)
        since = datetime.now(UTC) - timedelta(days=days)
        timeline = await asyncio.to_thread(
            lambda: self.api.store.actor_timeline(actor_id, ArticleFilters(since=since))
        )
        names = [d.day for d in timeline.days]
        series = [
            {"name": "mentions", "values": [d.articles for d in timeline.days]},
            {"name": "supportive", "values": [d.supportive for d in timeline.days]},
            {"name": "neutral", "values": [d.neutral for d in timeline.days]},
            {"name": "critical", "values": [d.critical for d in timeline.days]},
        ]
        return self.render(
            request,
            "actor.html",
            title=f"Actor {actor_id}",
            actor_id=actor_id,
            timeline=timeline,
            days=days,
            data=json.dumps({"days": names, "series": series}),
        )

    async def sources(self, request: web.Request) -> web.Response:
        report = await self.api.source_health(7)
        day_names = [
            (datetime.now(UTC) - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(6, -1, -1)
        ]
        return self.render(
            request, "sources.html", title="Sources", report=report, day_names=day_names
        )

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/alerts")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        data = (resources.files("mediawatch.api.web") / "static" / name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "text/plain"
        return web.Response(
            body=data, content_type=kind, headers={"Cache-Control": "public, max-age=3600"}
        )


def add_workspace(server: ServiceHttpServer, api: Api) -> Workspace:
    """Serve the workspace on the API's server, with its sessions and headers."""
    sessions = SessionStore(server.tokens, ttl_s=api.settings.session_ttl_s)
    server.accept_sessions(sessions)
    server.app.middlewares.append(security_headers)
    workspace = Workspace(api, sessions)
    refused = workspace.refused
    pages: tuple[tuple[str, str, PageHandler, Role | None], ...] = (
        ("GET", "/", workspace.home, None),
        ("GET", "/login", workspace.login_form, None),
        ("POST", "/login", workspace.login, None),
        ("POST", "/logout", workspace.logout, Role.VIEWER),
        ("GET", "/static/{name:.+}", workspace.static, None),
        ("GET", "/alerts", workspace.alerts, Role.VIEWER),
        ("GET", "/alerts/live", workspace.live_alerts, Role.VIEWER),
        ("POST", "/alerts/{alert_id}/ack", workspace.acknowledge, Role.EDITOR),
        ("POST", "/mute", workspace.mute, Role.EDITOR),
        ("GET", "/articles/{article_id}", workspace.article, Role.VIEWER),
        ("GET", "/search", workspace.search_page, Role.VIEWER),
        ("GET", "/rules", workspace.rules, Role.VIEWER),
        ("GET", "/rules/new", workspace.rule_editor, Role.EDITOR),
        ("POST", "/rules/new", workspace.rule_submit, Role.EDITOR),
        ("GET", "/rules/{rule_id}/edit", workspace.rule_editor, Role.EDITOR),
        ("POST", "/rules/{rule_id}/edit", workspace.rule_submit, Role.EDITOR),
        ("GET", "/trends", workspace.trends, Role.VIEWER),
        ("GET", "/actors/{actor_id}", workspace.actor, Role.VIEWER),
        ("GET", "/sources", workspace.sources, Role.VIEWER),
    )
    for method, path, handler, role in pages:
        server.add_route(method, path, handler, role=role, on_refusal=refused)
    return workspace
