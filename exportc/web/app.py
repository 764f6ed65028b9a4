"""The console's ASGI application (Starlette): wiring, and the one place that checks who may do what.

Every page is a function ``(Ctx) -> Response`` registered with the least role it needs. The
wrapper (``_guarded``) finds the session, sends a visitor without one to the login page, refuses
a role that is too low, checks the CSRF token of every POST, picks the language, and runs the
page function on a worker thread (pages use the same blocking history code as the CLI).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from exportc.runtime.accounts import Accounts, Session
from exportc.runtime.history import HistoryStore
from exportc.web import i18n
from exportc.web.catalog import Catalog
from exportc.web.limiter import LoginLimiter
from exportc.web.runner import Runner

HERE = Path(__file__).parent
COOKIE = "exportc_session"


@dataclass
class Console:
    """What every page works with: the history, users, profiles and the run workers."""

    store: HistoryStore
    catalog: Catalog
    runner: Runner
    secure_cookies: bool = False
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    env: jinja2.Environment = field(default_factory=lambda: _environment())

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.store)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["moment"] = lambda v: v.isoformat(sep=" ", timespec="minutes") if v else ""
    return env


@dataclass
class Ctx:
    """One request, as a page function sees it."""

    request: Request
    console: Console
    session: Session | None
    lang: str
    form: dict[str, Any]
    raw_form: Any = None

    def _(self, message: str, **values: object) -> str:
        return i18n.gettext_for(self.lang)(message, **values)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.console.env.get_template(template).render(
            _=i18n.gettext_for(self.lang), lang=self.lang, languages=i18n.LANGUAGES,
            session=self.session, user=self.session.user if self.session else None,
            csrf=self.session.csrf if self.session else "", path=self.request.url.path,
            query=str(self.request.url.query), **values)
        return HTMLResponse(html, status)

    def refuse(self, message: str, status: int = 403) -> HTMLResponse:
        return self.render("message.html", status, title=self._("Not allowed"), message=message)


Page = Callable[[Ctx], Response]


def guarded(page: Page, role: str | None) -> Callable[[Request], Awaitable[Response]]:
    """The page behind the checks; ``role`` None: no login needed (the login page itself)."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        raw = await request.form() if request.method == "POST" else None
        form = {k: raw[k] for k in raw} if raw is not None else {}
        lang = i18n.choose(request.cookies.get("exportc_lang"), request.headers.get("accept-language"))
        token = request.cookies.get(COOKIE)
        session = await run_in_threadpool(console.accounts.session, token) if token else None
        ctx = Ctx(request, console, session, lang, form, raw)
        if role is not None:
            if session is None:
                if request.method != "GET":
                    return ctx.refuse(ctx._("Your session has ended; log in again."), 401)
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                return RedirectResponse(f"/login?next={target}", 303)
            if not session.user.at_least(role):
                return ctx.refuse(ctx._("Your role does not allow this."))
        if request.method == "POST" and (session is not None or role is not None):
            if form.get("csrf") != (session.csrf if session else None):
                return ctx.refuse(ctx._("The form has expired or did not come from this console; "
                                        "reload the page and try again."))
        return await run_in_threadpool(page, ctx)
    return endpoint


def create_app(console: Console) -> Starlette:
    """The console application over one history, profile catalogue and set of workers."""
    from exportc.web import pages, runpages, userpages

    routes: list[BaseRoute] = [Route(path, guarded(fn, role), methods=methods)
                               for path, fn, role, methods in (*pages.ROUTES, *runpages.ROUTES, *userpages.ROUTES)]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        console.runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(console.runner.shutdown)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    return app


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)
