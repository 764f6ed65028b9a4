"""Benchmark: reading a JSON array source item by item (``exportc.runtime.jsonarray``) against
``json.load`` of the whole file, and JSON Lines for reference. Prints items/s and peak RSS.

    .venv/bin/python bench/bench_sources.py [--sizes 10000 100000 300000]

The files are i-Reserve invoices with 3 nested lines each (about 1 KB an item), written once to a
temporary folder. Each measurement runs in a fresh subprocess so its peak RSS is its own; the
streamed reader's RSS should stay flat as the file grows, ``json.load``'s grows with it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def invoice(i: int) -> dict[str, object]:
    lines = [{"Regelnummer": r + 1, "Regelomschrijving": f"Huur & service <{r}> week {i % 52}",
              "Regel_sub": f"{10 + (i * 7 + r * 13) % 900}.{r * 25:02d}", "BTW_bedrag": "21.00",
              "BTW_code": 21, "Grootboekrekening": ("8000", "8010", "8020")[r],
              "Datum_vanaf": "2026-03-01", "Datum_tot": "2026-03-08"} for r in range(3)]
    return {"Factuurnummer": f"2026{i:07d}", "Factuurdatum": "2026-03-01", "Omschrijving": f"Verblijf {i} Ærø",
            "Kenmerk": None, "cust_id": i % 5000, "Factuurbedrag": "1234.56", "Regels": lines}


def write(folder: Path, n: int) -> tuple[Path, Path]:
    array, lines = folder / f"invoices-{n}.json", folder / f"invoices-{n}.jsonl"
    with open(array, "w", encoding="utf-8") as a, open(lines, "w", encoding="utf-8") as jl:
        a.write("[\n")
        for i in range(n):
            text = json.dumps(invoice(i), ensure_ascii=False)
            a.write(("," if i else "") + text + "\n")
            jl.write(text + "\n")
        a.write("]\n")
    return array, lines


def child(how: str, path: str) -> None:
    sys.path.insert(0, str(ROOT))
    from exportc.runtime.sources import Binding, read_raw
    start = time.perf_counter()
    if how == "json.load":
        with open(path, encoding="utf-8") as fh:
            count = sum(1 for _ in json.load(fh, parse_float=Decimal))
    else:
        count = sum(1 for _ in read_raw(Binding("invoices", path)))
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"count": count, "seconds": seconds, "rss": rss}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'items':>8} {'MB':>6}  {'reader':<22} {'items/s':>9} {'peak RSS':>9}")
        for n in args.sizes:
            array, lines = write(Path(tmp), n)
            mb = array.stat().st_size / 1e6
            for how, path in (("streamed JSON array", array), ("json.load (whole)", array),
                              ("JSON Lines", lines)):
                mode = "json.load" if how.startswith("json.load") else "stream"
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)],
                                     check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                assert r["count"] == n, r
                print(f"{n:>8} {mb:>6.0f}  {how:<22} {n / r['seconds']:>9,.0f} {r['rss']:>7.0f} MiB")


if __name__ == "__main__":
    main()
