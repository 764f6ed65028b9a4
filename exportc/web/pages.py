"""Login, language, the export page (the seed's "Beheer > Export") and the start form."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from starlette.responses import RedirectResponse, Response

from exportc.orchestrate import run_profile
from exportc.runtime.accounts import SESSION_HOURS
from exportc.runtime.execute import UsageError
from exportc.runtime.history import HistoryError
from exportc.web import forms
from exportc.web.app import COOKIE, Ctx, now
from exportc.web.catalog import Entry
from exportc.web.i18n import LANGUAGES


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//host` or a URL) is a place to go back to."""
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


LOGIN_COOKIE = "exportc_login"  # the login form's own CSRF token, before there is a session


def _login_form(ctx: Ctx, status: int, target: str, error: str | None) -> Response:
    """The login page with a fresh token in the form and in a strict cookie (double submit), so
    another site cannot post a login of its choosing (login CSRF)."""
    token = secrets.token_urlsafe(24)
    response = ctx.render("login.html", status, next=target, error=error, login_csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=ctx.console.secure_cookies)
    return response


def login(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        return _login_form(ctx, 200, _safe_next(ctx.request.query_params.get("next")), None)
    name = str(ctx.form.get("name", "")).strip()
    target = _safe_next(str(ctx.form.get("next", "/")))
    sent, expected = str(ctx.form.get("csrf", "")), ctx.request.cookies.get(LOGIN_COOKIE, "")
    if ctx.session is None and not (expected and hmac.compare_digest(sent, expected)):
        return _login_form(ctx, 403, target, ctx._("The form has expired or did not come from this "
                                                   "console; reload the page and try again."))
    address = ctx.request.client.host if ctx.request.client else "?"
    keys = (f"user:{name}", f"ip:{address}")
    limiter = ctx.console.limiter
    wait = limiter.wait(*keys)
    if wait > 0:
        return _login_form(ctx, 429, target, ctx._(
            "Too many wrong passwords. Try again in %(seconds)s seconds.", seconds=int(wait) + 1))
    user = ctx.console.accounts.check_password(name, str(ctx.form.get("password", "")))
    if user is None:
        limiter.failed(*keys)
        return _login_form(ctx, 401, target, ctx._("Wrong user name or password."))
    limiter.succeeded(*keys)
    token, _session = ctx.console.accounts.open_session(user)
    response = RedirectResponse(target, 303)
    response.delete_cookie(LOGIN_COOKIE)
    response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="lax",
                        secure=ctx.console.secure_cookies)
    return response


def logout(ctx: Ctx) -> Response:
    token = ctx.request.cookies.get(COOKIE)
    if token:
        ctx.console.accounts.close_session(token)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response


def language(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"]
    response = RedirectResponse(_safe_next(ctx.request.query_params.get("next")), 303)
    if code in LANGUAGES:
        response.set_cookie("exportc_lang", code, max_age=365 * 86400, samesite="lax")
    return response


def start_blocked(ctx: Ctx, entry: Entry) -> str | None:
    """Why Start is disabled for this user and profile (None: it may start)."""
    assert ctx.session is not None
    if not ctx.session.user.may_run(entry.name):
        return ctx._("Your role may not start exports.")
    if entry.artefact is None:
        return ctx._("The profile does not compile.")
    if entry.unbound:
        return ctx._("Source not bound in exportc.toml: %(names)s.", names=", ".join(entry.unbound))
    if ctx.console.store.production_running(entry.name):
        return ctx._("A production run of this profile is in progress.")
    return None


def exports(ctx: Ctx) -> Response:
    assert ctx.session is not None
    user = ctx.session.user
    entries = [e for e in ctx.console.catalog.entries() if user.sees(e.name)]
    latest = ctx.console.store.latest_runs()
    rows = [{"entry": e, "last": latest.get(e.name), "blocked": start_blocked(ctx, e)} for e in entries]
    return ctx.render("exports.html", rows=rows)


def _entry(ctx: Ctx) -> Entry | None:
    assert ctx.session is not None
    entry = ctx.console.catalog.find(ctx.request.path_params["name"])
    return entry if entry is not None and ctx.session.user.sees(entry.name) else None


def start(ctx: Ctx) -> Response:
    entry = _entry(ctx)
    if entry is None:
        return ctx.refuse(ctx._("No such profile."), 404)
    blocked = start_blocked(ctx, entry)
    if blocked:
        return ctx.refuse(blocked, 409 if ctx.session and ctx.session.user.may_run(entry.name) else 403)
    if ctx.request.method == "GET":
        return _form(ctx, entry, None, {})
    values = forms.submitted(ctx.raw_form)
    parsed = forms.parse(entry, values, now())
    if parsed.opts is None:
        return _form(ctx, entry, values, parsed.errors, 400)
    if parsed.opts.mode == "production" and values.get("confirmed") != "yes":
        return ctx.render("confirm.html", entry=entry, values=_hidden(values), opts=parsed.opts, at=parsed.at)
    return _launch(ctx, entry, parsed)


def _hidden(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The submitted values as (name, value) pairs to carry through the confirmation page."""
    out: list[tuple[str, str]] = []
    for k, v in values.items():
        out.extend((k + "[]", x) for x in v) if isinstance(v, list) else out.append((k, v))
    return out


def _launch(ctx: Ctx, entry: Entry, parsed: forms.Parsed) -> Response:
    assert parsed.opts is not None and ctx.session is not None
    try:
        result = run_profile(str(entry.path), parsed.opts, store=ctx.console.store, at=parsed.at,
                             queue=parsed.at is None, started_by=ctx.session.user.name)
    except (UsageError, HistoryError) as exc:
        return _form(ctx, entry, forms.submitted(ctx.raw_form), {"": str(exc)}, 400)
    if result.scheduled is None:  # the profile changed and no longer compiles
        return ctx.refuse(ctx._("The profile does not compile."), 409)
    ctx.console.runner.queued()
    return RedirectResponse(f"/runs/{result.scheduled}", 303)


def _form(ctx: Ctx, entry: Entry, values: dict[str, Any] | None, errors: dict[str, str],
          status: int = 200) -> Response:
    assert entry.artefact is not None
    return ctx.render("start.html", status, entry=entry, fields=forms.fields(entry, values),
                      errors=errors, window=forms.window_field(entry.artefact),
                      sources=entry.binding.sources if entry.binding else {},
                      fixed=entry.binding.params if entry.binding else {},
                      profile_file=Path(entry.path).name, values=values or {},
                      documents=bool(entry.artefact.documents))


ROUTES = [
    ("/login", login, None, ["GET", "POST"]),
    ("/logout", logout, "viewer", ["POST"]),
    ("/lang/{code}", language, None, ["GET"]),
    ("/", exports, "viewer", ["GET"]),
    ("/exports/{name}/start", start, "viewer", ["GET", "POST"]),
]
