"""Users, for admins (the seed's "manage export settings and export"): list, add, remove.

The same operations as ``exportc users``, on the same store (``runtime.accounts``).
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from exportc.runtime.accounts import ROLES, AccountError
from exportc.web.app import Ctx


def users(ctx: Ctx, error: str | None = None, status: int = 200) -> Response:
    return ctx.render("users.html", status, users=ctx.console.accounts.list(), roles=ROLES, error=error,
                      profiles=[e.name for e in ctx.console.catalog.entries()])


def add(ctx: Ctx) -> Response:
    raw = ctx.raw_form
    chosen = [str(p) for p in raw.getlist("profiles")] if raw is not None else []
    try:
        ctx.console.accounts.add(str(ctx.form.get("name", "")).strip(), str(ctx.form.get("role", "")),
                                 str(ctx.form.get("password", "")), chosen or None)
    except AccountError as exc:
        return users(ctx, str(exc), 400)
    return RedirectResponse("/users", 303)


def remove(ctx: Ctx) -> Response:
    assert ctx.session is not None
    name = ctx.request.path_params["name"]
    if name == ctx.session.user.name:
        return users(ctx, ctx._("You cannot remove yourself."), 400)
    try:
        ctx.console.accounts.remove(name)
    except AccountError as exc:
        return users(ctx, str(exc), 404)
    return RedirectResponse("/users", 303)


ROUTES = [
    ("/users", users, "admin", ["GET"]),
    ("/users/add", add, "admin", ["POST"]),
    ("/users/{name}/remove", remove, "admin", ["POST"]),
]
