"""One function per command: compile a profile, then hand the artefact to the runtime.

The CLI calls these; tests call them too. Profiles are named by path or by profile name (found
in the profile folders of exportc.toml). Every run, test or production, is listed in the history
database's overview; production runs also record what they delivered.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import getpass
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportc.bindings import Binding, apply_binding, load_bindings
from exportc.compiler.cached import compile_cached
from exportc.compiler.result import CompileResult
from exportc.config import ConfigError
from exportc.project import cwd_project, display_path, find_profile, history_url, project_of
from exportc.runtime.execute import RunOptions, UsageError, start_early
from exportc.runtime.liveness import now
from exportc.runtime.report import Report
from exportc.runtime.secrets import has_literal_password, redact

if TYPE_CHECKING:  # the history (and SQLAlchemy, ~0.1 s to import) loads when a command uses one:
    # `exportc params`, `profiles`, `run PROFILE --help` never do
    from exportc.runtime.history import HistoryStore, RunRow


def os_user() -> str:
    """The operating-system user running this process: who started a run from the command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid {os.getuid()}"


def resolve_profile(name: str) -> Path:
    """A profile path from a path or a profile name (in the working directory's project)."""
    try:
        found = find_profile(name)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if found is None:
        raise UsageError(f"no profile file or profile named `{name}`")
    return found


def project_profiles() -> list[tuple[Path, CompileResult]]:
    """Every profile in the working directory's project's profile folders, each compiled."""
    try:
        folders = cwd_project().profiles
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    seen: set[Path] = set()
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.map")) if folder.is_dir() else []:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                out.append((display_path(path), compile_cached(display_path(path))))
    return out


def binding_for(profile: Path, name: str) -> Binding | None:
    """The sources and params that the profile's project binds to the profile ``name``."""
    return load_bindings(project_of(profile).file).get(name)


_STORES: dict[str, HistoryStore] = {}


def history_location(db: str | None, profile: Path | None = None) -> str:
    """The URL of the history a command uses: ``--db``, else the history of the profile's own
    project (found from the profile's location), else the working directory's project."""
    try:
        project = project_of(profile) if profile is not None else cwd_project()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return history_url(project, db)


def open_history(db: str | None, profile: Path | None = None, create: bool = True) -> HistoryStore:
    """The history store (see ``history_location``). Read-only commands pass ``create=False``:
    a history that does not exist yet is a ``NoHistory`` error, never a new empty file.
    One store (and connection pool) per database per process, closed at exit."""
    from exportc.runtime.history import HistoryStore
    url = history_location(db, profile)
    if url not in _STORES:
        store = HistoryStore(url, create=create)
        if not _STORES:
            atexit.register(close_histories)
        _STORES[url] = store
    return _STORES[url]


def close_histories() -> None:
    """Dispose every open history store's connection pool."""
    while _STORES:
        _STORES.popitem()[1].dispose()


@dataclass
class RunResult:
    compiled: CompileResult
    report: Report | None
    scheduled: int | None = None
    store: HistoryStore | None = None  # the history the run used (or was stored in)


def _request(profile: Path, opts: RunOptions) -> dict[str, Any]:
    def where(loc: str) -> str:  # stored, so a written-out password never is (runtime.secrets)
        return redact(loc) if "://" in loc else str(Path(loc).resolve())
    return {"profile": str(profile.resolve()), "sources": {k: where(v) for k, v in opts.sources.items()},
            "queries": opts.queries, "params": opts.params,
            "from": opts.date_from.isoformat() if opts.date_from else None,
            "to": opts.date_to.isoformat() if opts.date_to else None,
            "booking_date": opts.booking_date.isoformat() if opts.booking_date else None,
            "description": opts.description, "out": str(opts.out_dir.resolve()) if opts.out_dir else None,
            "validate": opts.validate, "skip_invalid": opts.skip_invalid, "mode": opts.mode,
            "started_by": opts.started_by, "allow_deletions": opts.allow_deletions,
            "all": opts.whole, "first_delivery": opts.first_delivery, "split": opts.split,
            "zip": opts.zip}


def options_from_request(req: dict[str, Any]) -> RunOptions:
    def day(v: str | None) -> dt.date | None:
        return dt.date.fromisoformat(v) if v else None
    return RunOptions(sources=req["sources"], params=req["params"], queries=req.get("queries", {}),
                      date_from=day(req["from"]), date_to=day(req["to"]),
                      booking_date=day(req["booking_date"]), description=req["description"],
                      out_dir=Path(req["out"]) if req.get("out") else None, validate=req["validate"],
                      skip_invalid=req["skip_invalid"], mode=req["mode"],
                      started_by=req.get("started_by"), allow_deletions=req.get("allow_deletions"),
                      whole=req.get("all", False), first_delivery=req.get("first_delivery", False),
                      split=req.get("split"), zip=req.get("zip", False))


def run_profile(profile: str, opts: RunOptions, db: str | None = None,
                at: dt.datetime | None = None, lock_timeout: float = 60.0,
                store: HistoryStore | None = None, started_by: str | None = None,
                queue: bool = False) -> RunResult:
    """Compile; then run now (recorded in the overview) or store the run for ``at``; with
    ``queue``, store it due now for a worker (the console's) instead of running it here.

    ``started_by`` names who started (or scheduled) the run, as the overview shows it: the web
    console passes its logged-in user; left out, it is the OS user of this process (the CLI)."""
    if lock_timeout < 0:
        raise UsageError(f"the lock timeout must be 0 seconds or more, not {lock_timeout:g}")
    opts = dataclasses.replace(opts, started_by=started_by or opts.started_by or os_user())
    path = resolve_profile(profile)
    compiled = compile_cached(path)
    if not compiled.ok or compiled.artefact is None:
        return RunResult(compiled, None)
    artefact = compiled.artefact
    apply_binding(binding_for(path, artefact.name), opts)
    from exportc.runtime.execute import bind_params
    bind_params(artefact, opts.params)  # a bad param is a usage error now, not at the scheduled time
    if at is not None:
        at = schedule_moment(at)
    elif queue:
        at = now()
    if at is not None:
        _no_stored_secrets(opts, binding_for(path, artefact.name))
    else:
        start_early(artefact, opts)  # beside importing SQLAlchemy and opening the history
    from sqlalchemy.exc import DatabaseError

    from exportc.runtime.history import HistoryError, db_reason
    from exportc.runtime.production import preflight, run_with_history
    store = store or open_history(db, path)
    request = _request(path, opts)
    try:
        if at is not None:
            preflight(artefact, opts, store)  # what it must be asked for: say so now, not at the time
            run_id = store.create_run(artefact.name, "P" if opts.mode == "production" else "T",
                                      "scheduled", request, (opts.date_from, opts.date_to),
                                      None, scheduled_at=at)
            return RunResult(compiled, None, scheduled=run_id, store=store)
        return RunResult(compiled, run_with_history(artefact, opts, store, request,
                                                    lock_timeout=lock_timeout), store=store)
    except DatabaseError as exc:  # e.g. a read-only history: one line naming it, no traceback
        raise HistoryError(f"cannot write the history database {store.where}: {db_reason(exc)}") from None


def _no_stored_secrets(opts: RunOptions, binding: Binding | None) -> None:
    """A stored run keeps no password: one written into a command-line URL cannot come back when
    the run is due (one from the project's binding can: ``restore_secrets``)."""
    bound = binding.sources if binding else {}
    for name, loc in opts.sources.items():
        if has_literal_password(loc) and bound.get(name) != loc:
            raise UsageError(f"source `{name}`: a stored run does not keep the password written in "
                             "its URL; give it through the environment, as `${NAME}` in the URL "
                             "(e.g. postgresql+psycopg://user:${DB_PASSWORD}@host/db)")


def restore_secrets(opts: RunOptions, binding: Binding | None) -> None:
    """Put back the bound URLs whose password the stored request left out."""
    for name, loc in (binding.sources if binding else {}).items():
        if opts.sources.get(name) == redact(loc) != loc:
            opts.sources[name] = loc


def schedule_moment(at: dt.datetime) -> dt.datetime:
    """When a scheduled run is due, as the history stores it (local time, to the second); a
    moment with a zone is converted, a moment that has passed is refused."""
    from exportc.runtime.history import aware
    local = at.astimezone().replace(tzinfo=None) if at.tzinfo else at
    local = local.replace(microsecond=0)
    if local < now():
        raise UsageError(f"--at {at.isoformat()} has passed (it is now "
                         f"{aware(now()).isoformat()}); give a future moment, or run it now "
                         "without --at")
    return local


def cancel_run(store: HistoryStore, run_id: int) -> RunRow:
    """Cancel a scheduled run before a worker takes it; any other run is refused."""
    row = store.get_run(run_id)
    if row is None:
        raise UsageError(f"no run {run_id}")
    if not store.cancel_scheduled(run_id):
        current = store.get_run(run_id)
        raise UsageError(f"run {run_id} is {current.status if current else 'gone'}; only a "
                         "scheduled run can be cancelled")
    cancelled = store.get_run(run_id)
    assert cancelled is not None
    return cancelled


Observer = Callable[["RunRow", RunOptions], None]


def work(store: HistoryStore, once: bool, poll: float = 5.0,
         on_run: Any = None, observe: Observer | None = None,
         wake: threading.Event | None = None, stop: threading.Event | None = None) -> int:
    """Run due scheduled runs; with ``once``, those due now, then return how many ran.
    ``observe`` may hook progress callbacks into a run's options before it starts; ``wake``
    cuts the wait short (a run was just queued), ``stop`` ends the loop (the server stops)."""
    done = 0
    while stop is None or not stop.is_set():
        row = store.claim_due()
        if row is None:
            if once:
                return done
            if wake is None:
                time.sleep(poll)
            elif wake.wait(poll):
                wake.clear()
            continue
        report = execute_scheduled(store, row, observe)
        done += 1
        if on_run is not None:
            on_run(row, report)
    return done


def execute_scheduled(store: HistoryStore, row: RunRow, observe: Observer | None = None) -> Report | None:
    """Run a claimed scheduled run; a profile that no longer compiles fails the run."""
    from exportc.diagnostics import render_all_text
    from exportc.runtime.production import run_with_history
    req = row.request
    compiled = compile_cached(Path(req["profile"]))
    opts = options_from_request(req)
    if compiled.artefact is not None:
        restore_secrets(opts, binding_for(Path(req["profile"]), compiled.artefact.name))
    if observe is not None:
        observe(row, opts)
    if not compiled.ok or compiled.artefact is None:
        report = Report(row.profile, opts.mode, status="failed", run_id=row.id)
        from exportc.runtime.report import problem
        report.problems.append(problem("error", "E0622", "the profile no longer compiles:\n"
                                       + render_all_text(compiled.diagnostics, compiled.sources)))
        store.finish_run(row.id, store.finish_values("failed", report.to_json(), [], 1, 0, {}))
        return report
    try:
        return run_with_history(compiled.artefact, opts, store, req, run_id=row.id)
    except Exception:  # recorded as failed by run_with_history; the worker goes on
        return None
