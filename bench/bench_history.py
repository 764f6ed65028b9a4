"""Benchmark: a production rerun over N records with 1% mutations, against a test run of the
same data (both classify every record against the history; production also records).

    .venv/bin/python bench/bench_history.py [--records 1000000] [--db URL]

Prints wall time, records/s and peak RSS of each run (each in a fresh subprocess) and the
production overhead over the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "profiles/exact-online/exact-online.map"


def write_invoices(path: Path, n: int, mutate_every: int = 0) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            sub = 100 + i % 900
            if mutate_every and i % mutate_every == 0:
                sub += 1
            vat = sub * 21 / 100
            fh.write(json.dumps({
                "Factuurnummer": f"B{i:08d}", "Factuurdatum": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "Omschrijving": f"Verblijf {i}", "Kenmerk": None, "cust_id": 42,
                "Factuurbedrag": f"{sub + vat:.2f}",
                "Regels": [{"Regelnummer": 1, "Regelomschrijving": "Verblijf", "Regel_sub": f"{sub:.2f}",
                            "BTW_bedrag": f"{vat:.2f}", "BTW_code": 21, "Grootboekrekening": "8010",
                            "Datum_vanaf": None, "Datum_tot": None}]}) + "\n")


def run(mode: str, db: str, work: Path, name: str) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", mode, db, str(work), name]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def child(mode: str, db: str, work: Path, name: str) -> None:
    os.chdir(ROOT)
    from exportc.orchestrate import run_profile
    from exportc.runtime.execute import RunOptions

    opts = RunOptions(sources={"customers": str(ROOT / "examples/i-reserve/customers.jsonl"),
                               "invoices": str(work / "invoices.jsonl")},
                      params={"invoice_export": "true"}, out_dir=work / name, mode=mode, validate=True)
    start = time.perf_counter()
    result = run_profile(PROFILE, opts, db=db)
    elapsed = time.perf_counter() - start
    assert result.report is not None and result.report.status == "succeeded", result.report
    written = sum(b.written for b in result.report.blocks.values())
    print(json.dumps({"seconds": elapsed, "written": written,
                      "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--db")
    ap.add_argument("--child", nargs=4)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]), args.child[3])
        return
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "exportc-bench-history"
    work.mkdir(exist_ok=True)
    db = args.db or f"sqlite:///{work / 'history.db'}"
    if db.startswith("sqlite:///"):
        Path(db[len("sqlite:///"):]).unlink(missing_ok=True)
    n = args.records
    write_invoices(work / "invoices.jsonl", n)
    first = run("production", db, work, "first")
    print(f"first production run, {n:,} records: {first['seconds']:.1f}s, {n / first['seconds']:,.0f} records/s, "
          f"{first['rss_mib']:.0f} MiB")
    write_invoices(work / "invoices.jsonl", n, mutate_every=100)  # 1% changed
    test = run("test", db, work, "test")
    prod = run("production", db, work, "rerun")
    for label, r in (("test run", test), ("production rerun", prod)):
        print(f"{label:>17}: {r['seconds']:.1f}s, {n / r['seconds']:,.0f} records/s, "
              f"{r['written']:,.0f} elements written, peak RSS {r['rss_mib']:.0f} MiB")
    print(f"production overhead over the test run: {(prod['seconds'] / test['seconds'] - 1) * 100:+.1f}%")


if __name__ == "__main__":
    main()
