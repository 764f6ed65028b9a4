"""The runs overview (the seed's "show exports"), one run's page, its progress, files and cancel."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from exportc.diagnostics import Diagnostic, render_text
from exportc.runtime.history import RunRow
from exportc.runtime.report import Report, group_problems, report_json_of
from exportc.runtime.runstore import run_files
from exportc.web.app import Ctx

PAGE_SIZE = 50
KINDS = ("P", "T", "failed")


def overview(ctx: Ctx) -> Response:
    assert ctx.session is not None
    user = ctx.session.user
    q = ctx.request.query_params
    profile = q.get("profile") or None
    kind = q.get("kind") if q.get("kind") in KINDS else None
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = ctx.console.store.page_runs(profile, kind, PAGE_SIZE, (page - 1) * PAGE_SIZE,
                                              user.profiles)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return ctx.render("runs.html", rows=rows, total=total, page=page, pages=pages, profile=profile,
                      kind=kind, highlight=_int(q.get("run")))


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _run(ctx: Ctx) -> RunRow | None:
    assert ctx.session is not None
    row = ctx.console.store.get_run(int(ctx.request.path_params["id"]))
    return row if row is not None and ctx.session.user.sees(row.profile) else None


def files_of(row: RunRow) -> list[str]:
    """The run's files, then its report files: what the run page offers, by position."""
    if row.status in ("scheduled", "cancelled"):
        return []
    return [str(p) for p in run_files(row.files, row.out_dir)]


def _report(row: RunRow) -> Report | None:
    if not row.report:
        return None
    try:
        return Report.from_json(row.report)
    except (TypeError, KeyError, ValueError):
        return None


SHOWN_KEYS = 200  # the keys a group of like problems names on the run page
SHOWN_GROUPS = 100  # the groups of like problems shown per code; the rest are counted


def grouped(problems: list[Diagnostic]) -> list[tuple[str, str, int, list[str], int]]:
    """Problems by severity and code, errors first: for each, how many, the like ones (same
    rule and message) grouped and rendered as ``exportc run`` and ``show`` render them (the
    first ``SHOWN_GROUPS``: only those are shown), and how many groups more there are."""
    groups: dict[tuple[str, str], list[Diagnostic]] = {}
    for p in group_problems(problems, SHOWN_KEYS):
        groups.setdefault((p.severity.value, p.code), []).append(p)
    order = {"error": 0, "warning": 1}
    return [(s, c, sum(p.count for p in ps), [render_text(p, {}) for p in ps[:SHOWN_GROUPS]],
             max(len(ps) - SHOWN_GROUPS, 0))
            for (s, c), ps in sorted(groups.items(), key=lambda g: (order.get(g[0][0], 2), g[0][1]))]


def run_page(ctx: Ctx) -> Response:
    row = _run(ctx)
    if row is None:
        return ctx.refuse(ctx._("No such run."), 404)
    report = _report(row)
    files = [{"n": n, "name": Path(f).name, "exists": Path(f).is_file()} for n, f in enumerate(files_of(row))]
    live = row.status in ("scheduled", "running")
    return ctx.render("run.html", row=row, report=report, files=files, live=live,
                      groups=grouped(report.problems) if report else [],
                      params=report.params if report else row.request.get("params", {}),
                      may_cancel=row.status == "scheduled" and ctx.session is not None
                      and ctx.session.user.may_run(row.profile))


def progress(ctx: Ctx) -> Response:
    row = _run(ctx)
    if row is None:
        return JSONResponse({"error": "no such run"}, 404)
    live = ctx.console.runner.progress.get(row.id)
    body: dict[str, Any] = {"id": row.id, "status": row.status, "finished": row.status not in ("scheduled", "running")}
    if live is not None:
        body.update(live.to_json())
    return JSONResponse(body)


def cancel(ctx: Ctx) -> Response:
    row = _run(ctx)
    if row is None:
        return ctx.refuse(ctx._("No such run."), 404)
    assert ctx.session is not None
    if not ctx.session.user.may_run(row.profile):
        return ctx.refuse(ctx._("Your role may not start exports."))
    if not ctx.console.store.cancel_scheduled(row.id):
        return ctx.refuse(ctx._("The run has already started; it can no longer be cancelled."), 409)
    return RedirectResponse(f"/runs/{row.id}", 303)


def file(ctx: Ctx) -> Response:
    row = _run(ctx)
    listed = files_of(row) if row else []
    n = int(ctx.request.path_params["n"])
    if row is None or n >= len(listed) or not Path(listed[n]).is_file():
        return ctx.refuse(ctx._("No such file."), 404)
    path = Path(listed[n])
    media = {".xml": "application/xml", ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
    disposition = "attachment" if ctx.request.query_params.get("download") else "inline"
    return FileResponse(path, media_type=media.get(path.suffix, "application/octet-stream"),
                        filename=path.name, content_disposition_type=disposition)


def report_json(ctx: Ctx) -> Response:
    row = _run(ctx)
    if row is None:
        return JSONResponse({"error": "no such run"}, 404)
    return JSONResponse({**row.to_json(), "report": report_json_of(row.report)})


ROUTES = [
    ("/runs", overview, "viewer", ["GET"]),
    ("/runs/{id:int}", run_page, "viewer", ["GET"]),
    ("/runs/{id:int}.json", report_json, "viewer", ["GET"]),
    ("/runs/{id:int}/progress", progress, "viewer", ["GET"]),
    ("/runs/{id:int}/cancel", cancel, "viewer", ["POST"]),
    ("/runs/{id:int}/files/{n:int}", file, "viewer", ["GET"]),
]
