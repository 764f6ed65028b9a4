"""Benchmark the Peppol profile end to end: documents per second of a whole ``exportc run``
process, with the XSD only and with the XSD and both Schematron rule sets (EN 16931 and Peppol),
the rules in the run's own process (the default) and on one worker process per core
(``EXPORTC_RULE_WORKERS``).

    .venv/bin/python bench/bench_peppol.py [--sizes 1000 10000] [--runs 3] [--data DIR]
                                           [--commands]

Data: ``bench/gen_ireserve.py`` invoices (one customer per ten invoices), the customers given the
e-invoicing fields the profile needs (``KvK``, ``BTW_nummer``, ``Peppol_ID`` as ``0106:<KvK>``)
and an address (Dutch rule NL-R-004 wants one), as ``tests/test_peppol.py`` builds them; every
document then passes both rule sets. "XSD only" is the shipped profile without its ``schematron``
clauses (written beside the data, its schemas named by absolute path).

Every command is a fresh process, timed from outside (wall clock, and CPU of it and its workers);
runs are interleaved and min / median / max are printed: the machine is shared, so quote the
median and read the spread. ``--commands`` prints the commands instead (to time them with
``farm-bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from wholeprocess import ROOT, as_installed, timed

PROFILE = ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map"
MAINDOC = ROOT.parent / "shared" / "reference" / "ubl-2.1" / "xsd" / "maindoc"
SELLER = {"seller_name": "Recreatiepark De Eik B.V.", "seller_vat_id": "NL859412631B01",
          "seller_kvk": "34567890", "seller_peppol_id": "0106:34567890",
          "seller_iban": "NL02ABNA0123456789", "seller_street": "Bosweg 1",
          "seller_postcode": "6711 AA", "seller_city": "Ede"}


def data(folder: Path, invoices: int) -> Path:
    """Generated, Peppol-ready source files (kept between calls)."""
    out = folder / f"peppol-{invoices}"
    if (out / "invoices.jsonl").is_file():
        return out
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_ireserve.py"), str(out), "--invoices",
                    str(invoices), "--customers", str(max(invoices // 10, 1))], check=True)
    rows = [json.loads(line) for line in (out / "customers.jsonl").read_text("utf-8").splitlines()]
    for c in rows:
        kvk = f"{10000000 + c['cust_id']}"
        c.update(KvK=kvk, BTW_nummer=f"NL{100000000 + c['cust_id']}B01", Peppol_ID=f"0106:{kvk}")
        if c["Adres"] is None:
            c.update(Adres="Dorpsstraat", Huisnummer="1", Postcode="1234 AB", Woonplaats="Amsterdam", Land="NL")
    (out / "customers.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in rows), "utf-8")
    return out


def xsd_only(folder: Path) -> Path:
    """The shipped profile without its Schematron stylesheets."""
    text = PROFILE.read_text("utf-8").replace(' schematron "CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt"', "")
    for kind in ("Invoice", "CreditNote"):
        text = text.replace(f'target "UBL-{kind}-2.1.xsd"', f'target "{MAINDOC / f"UBL-{kind}-2.1.xsd"}"')
    path = folder / "peppol-bis3-xsd-only.map"
    path.write_text(text, "utf-8")
    return path


def command(profile: Path, source: Path, store: Path) -> list[str]:
    cmd = [sys.executable, "-m", "exportc", "run", str(profile), "--db", f"sqlite:///{store / 'history.db'}",
           "--source", f"customers={source / 'customers.jsonl'}", "--source", f"invoices={source / 'invoices.jsonl'}"]
    return cmd + [a for k, v in SELLER.items() for a in ("--param", f"{k}={v}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "exportc-bench")
    ap.add_argument("--commands", action="store_true", help="print the commands, run nothing")
    a = ap.parse_args()
    as_installed()
    a.data.mkdir(parents=True, exist_ok=True)
    cores = str(len(os.sched_getaffinity(0)))
    variants = [("XSD only", xsd_only(a.data), {}), ("XSD + both Schematron (in process)", PROFILE,
                                                           {"EXPORTC_RULE_WORKERS": "0"}),
                (f"XSD + both Schematron, {cores} rule workers", PROFILE, {"EXPORTC_RULE_WORKERS": cores})]
    for size in a.sizes:
        source = data(a.data, size)
        store = a.data / f"store-{size}"
        env = {**os.environ, "EXPORTC_RUN_STORE": str(store)}
        if a.commands:
            for name, profile, extra in variants:
                prefix = " ".join(f"{k}={v}" for k, v in {"EXPORTC_RUN_STORE": store, **extra}.items())
                print(f"# {size} invoices, {name}\n{prefix} {shlex.join(command(profile, source, store))}")
            continue
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in variants}
        for _ in range(a.runs):
            for name, profile, extra in variants:
                shutil.rmtree(store, ignore_errors=True)
                times[name].append(timed(command(profile, source, store), {**env, **extra})[:2])
        shutil.rmtree(store, ignore_errors=True)
        print(f"{size} invoices, {a.runs} runs, cores: {len(os.sched_getaffinity(0))}, "
              f"load average {os.getloadavg()[0]:.1f}")
        for name, got in times.items():
            walls = sorted(w for w, _ in got)
            median = statistics.median(walls)
            cpu = statistics.median(c for _, c in got)
            print(f"  {name:38} wall min {walls[0]:6.1f} s  median {median:6.1f} s  max {walls[-1]:6.1f} s"
                  f"  cpu {cpu:6.1f} s  {size / median:7.0f} documents/s (median)")


if __name__ == "__main__":
    main()
