"""The console's figures, against a real ``exportc serve`` (not timed tests; prints figures).

    .venv/bin/python bench/bench_console.py overview [--runs 10000]
        fills a fresh SQLite history with RUNS finished runs, starts `exportc serve` on it and
        times the runs overview (first page, a late page, filters, one profile) and a run page:
        median and 95th percentile of 50 requests each, as a browser would send them.

    .venv/bin/python bench/bench_console.py start URL PROFILE [--param NAME=VALUE ...]
        one browser-started run as a whole command: log in, post the start form, poll the
        progress until the run ends; exits 1 unless it succeeded. For farm-bench --vs against
        `exportc run` over the same data (see docs/console.md).

The login is read from EXPORTC_BENCH_USER / EXPORTC_BENCH_PASSWORD (default bench / bench).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

USER = os.environ.get("EXPORTC_BENCH_USER", "bench")
PASSWORD = os.environ.get("EXPORTC_BENCH_PASSWORD", "bench")


class Browser:
    """Cookies and the CSRF token, like a browser keeps them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=60) as r:
            return str(r.read().decode())

    def post(self, path: str, form: dict[str, str]) -> tuple[str, str]:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.url + path, data, timeout=60) as r:
            return r.geturl(), str(r.read().decode())

    def login(self) -> None:
        token = re.search(r'name="csrf" value="([^"]+)"', self.get("/login"))
        assert token, "no login form"
        final, _ = self.post("/login", {"name": USER, "password": PASSWORD, "next": "/", "csrf": token.group(1)})
        if final.endswith("/login"):
            raise SystemExit("login refused")


def start(url: str, profile: str, params: list[str]) -> int:
    b = Browser(url)
    b.login()
    page = b.get(f"/exports/{profile}/start")
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, "no start form"
    form = {"csrf": token.group(1), "mode": "test"}
    for p in params:
        name, _, value = p.partition("=")
        form[f"param.{name}"] = value
    final, _ = b.post(f"/exports/{profile}/start", form)
    run_id = final.rstrip("/").rsplit("/", 1)[1]
    while True:
        body = json.loads(b.get(f"/runs/{run_id}/progress"))
        if body["finished"]:
            return 0 if body["status"] == "succeeded" else 1
        time.sleep(0.05)


def _fill(db: Path, n: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sqlalchemy import insert

    from exportc.runtime.accounts import Accounts
    from exportc.runtime.history import HistoryStore, runs
    store = HistoryStore(f"sqlite:///{db}")
    Accounts(store).add(USER, "viewer", PASSWORD)
    report = json.dumps({"profile": "exact_online.invoices", "mode": "test", "status": "succeeded",
                         "problems": [{"severity": "warning", "code": "W0601", "message": "x" * 200}] * 50})
    start_at = dt.datetime(2026, 1, 1)
    rows = []
    for i in range(n):
        moment = start_at + dt.timedelta(minutes=i)
        failed = i % 17 == 0
        rows.append({"profile": ("exact_online.invoices", "acme.recreatie")[i % 2], "mode": "PT"[i % 3 != 0],
                     "status": "failed" if failed else "succeeded", "created": moment, "started": moment,
                     "finished": moment, "request": json.dumps({"started_by": "olga", "params": {}}),
                     "out_dir": "/nowhere", "files": "[]", "temp_files": "[]", "report": report,
                     "errors": 1 if failed else 0, "warnings": 50, "counts": '{"new": 120, "changed": 3}'})
    with store.engine.begin() as conn:
        conn.execute(insert(runs), rows)
    store.dispose()


def overview(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        _fill(db, n)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "exportc", "serve", "--port", str(port), "--db", str(db)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(url + "/login", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            b = Browser(url)
            b.login()
            print(f"{n:,} runs in the history; 50 requests each, milliseconds (median / p95):")
            for path in ("/runs", f"/runs?page={n // 50 // 2}", "/runs?kind=failed", "/runs?kind=P",
                         "/runs?profile=acme.recreatie&page=20", f"/runs/{n // 2}"):
                times = []
                for _ in range(50):
                    t = time.perf_counter()
                    b.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                print(f"  {path:42} {statistics.median(times):6.1f} / {times[int(len(times) * 0.95) - 1]:6.1f}")
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overview")
    o.add_argument("--runs", type=int, default=10_000)
    s = sub.add_parser("start")
    s.add_argument("url")
    s.add_argument("profile")
    s.add_argument("--param", action="append", default=[])
    args = parser.parse_args()
    if args.what == "overview":
        overview(args.runs)
    else:
        raise SystemExit(start(args.url, args.profile, args.param))


if __name__ == "__main__":
    main()
