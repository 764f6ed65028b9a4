"""The business rules on worker processes (runtime/schematron.py ``RulePool``): the same report,
in the same order, and the same documents as checking them one by one in the run's process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run
from test_peppol import PROFILE, RULES, SELLER, _invoice, _world

from exportc.runtime.schematron import RulePool, RuleQueue, Schematron, SchematronUnavailable

# Good invoices between bad ones, in more records than a batch and spread over the settle
# window, so an early bad record's findings arrive while later records are being rendered.
BAD_VAT = [("100.00", "50.00", 21)]  # BR-S-09 (EN 16931): VAT is not 21% of the base
GOOD = [("100.00", "21.00", 21), ("50.00", "4.50", 9)]


def _world_with_problems(folder: Path) -> dict[str, str]:
    invoices = []
    for n in range(40):
        lines = BAD_VAT if n % 7 == 3 else GOOD
        invoices.append(_invoice(f"Q{n:02d}", lines, cust=999 if n % 11 == 5 else 42))
    customers = [json.loads(x) for x in (PROFILE.parents[2] / "examples" / "i-reserve" / "customers.jsonl")
                 .read_text("utf-8").splitlines()]
    return _world(folder, invoices, customers)


def _report(tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[object, ...]],
                                                                                     dict[str, bytes]]:
    monkeypatch.setenv("EXPORTC_RULE_WORKERS", str(workers))
    sources = _world_with_problems(tmp_path / f"w{workers}")
    report = run(PROFILE, tmp_path / f"out{workers}", sources, params=SELLER, skip_invalid=True)
    assert report.status == "succeeded"
    problems = [(p.severity, p.code, p.message, p.record, p.span, p.document, p.line_text) for p in report.problems]
    return problems, {Path(f).name: Path(f).read_bytes() for f in report.files}


def test_the_pool_gives_the_same_report_in_the_same_order(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    alone, alone_files = _report(tmp_path, 0, monkeypatch)
    pooled, pooled_files = _report(tmp_path, 2, monkeypatch)
    assert pooled == alone
    assert pooled_files == alone_files
    fatal = [p for p in alone if p[1] == "E0651"]
    records = sorted({p[3] for p in fatal})
    assert records == [f"Factuurnummer=Q{n:02d}" for n in range(40) if n % 7 == 3 and n % 11 != 5]
    # each names its rule id, message, location in the document and the .map line that wrote it
    s09 = [p for p in fatal if str(p[2]).startswith("BR-S-09")]
    assert s09 and all("(at Invoice/TaxTotal/TaxSubtotal/TaxCategory" in str(p[2]) and p[4] for p in s09)
    # records are reported in the order they were read, whatever finished first
    order = [p[3] for p in alone if p[0] == "error"]
    assert order == sorted(order, key=lambda r: str(r))
    assert len(pooled_files) == 40 - len(records) - len([n for n in range(40) if n % 11 == 5])


def test_batches_come_back_in_the_order_they_were_asked() -> None:
    base = (Path(RULES[0]).parents[1] / "examples" / "peppol-bis3" / "base-example.xml").read_text("utf-8")
    bad = base.replace(">1656.25</cbc:PayableAmount>", ">1656.26</cbc:PayableAmount>")
    docs = [bad if n % 3 == 0 else base for n in range(20)]
    here = Schematron(RULES)
    expected = [here.check(d) for d in docs]
    pool = RulePool([RULES], 2)
    try:
        queue = RuleQueue(pool, size=3)
        asked = [queue.ask(RULES, d) for d in docs]
        assert [a.result() for a in reversed(asked)][::-1] == expected
    finally:
        pool.close()
    assert any(expected) and not all(expected)


def test_a_missing_stylesheet_is_said_before_any_worker_starts(tmp_path: Path) -> None:
    with pytest.raises(SchematronUnavailable, match="no such file"):
        RulePool([(str(tmp_path / "nothere.xslt"),)], 1)


@pytest.mark.parametrize(("given", "cores", "workers"), [
    (None, 2, 2), (None, 4, 4), (None, 1, 0), ("0", 2, 0), ("3", 1, 3), ("many", 2, 2),
])
def test_the_rules_run_on_one_worker_per_core_unless_told(
        monkeypatch: pytest.MonkeyPatch, given: str | None, cores: int, workers: int) -> None:
    from exportc.runtime import schematron
    if given is None:
        monkeypatch.delenv("EXPORTC_RULE_WORKERS", raising=False)
    else:
        monkeypatch.setenv("EXPORTC_RULE_WORKERS", given)
    monkeypatch.setattr(schematron.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert schematron.rule_workers() == workers
