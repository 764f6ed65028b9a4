"""Benchmark: parse (and format) a 2,000-line profile; prints the figures.

    .venv/bin/python bench/bench_parse.py [--lines 2000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from exportc.dsl import lalr
from exportc.dsl.formatter import format_module
from exportc.dsl.parser import parse_text


def profile_text(lines: int) -> str:
    """A realistic profile: header, params, a table, a source, then blocks of rules."""
    out = ['profile bench.big "A big profile"', 'target "eExact-XML.xsd" root eExact', "history mutations",
           'param cust_id_length: int = 8 "Customer code length"', 'param prefix: text = ""',
           'table vat: int -> text { 8 -> "12"  21 -> "2" } default "0"',
           "source invoices key nr window day {", "  nr: text", "  day: date", "  total: decimal",
           "  note: text?", "  lines: list key n { n: int  amount: decimal  code: int }", "}"]
    block = 0
    while len(out) < lines:
        block += 1
        out.append(f"Invoices/Invoice for invoices where total > {block} and note != null {{  # block {block}")
        for i in range(8):
            out.append(f'  prefix + pad(nr, cust_id_length) + "-{i}" > Description')
            out.append(f"  if total > {i} then total * 2 else total - {i}.50 > ForeignAmount/Value override")
        out.append("  InvoiceLine for lines {")
        out.append("    n > @line  amount > ForeignAmount/Value  vat[code] > NetPrice/VAT/@code")
        out.append("  }")
        out.append('  check sum(lines.amount) == total else warning "lines differ"')
        out.append("}")
    return "\n".join(out[:lines]) + "\n}\n" if not out[lines - 1].startswith("}") else "\n".join(out[:lines]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    t = time.perf_counter()
    lalr.parser()
    print(f"loading the LALR parser (once per process): {time.perf_counter() - t:.3f}s")
    text = profile_text(args.lines)
    n_lines = text.count("\n")
    result = parse_text(text, "big.map")
    assert result.module is not None, result.diagnostics[:1]
    parse_times, fmt_times = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        module = parse_text(text, "big.map").module
        parse_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        format_module(module)  # type: ignore[arg-type]
        fmt_times.append(time.perf_counter() - t)
    med = statistics.median(parse_times)
    print(f"parse {n_lines:,} lines: median {med * 1000:.1f} ms over {args.repeat} runs "
          f"({n_lines / med:,.0f} lines/s); min {min(parse_times) * 1000:.1f} ms")
    print(f"format the same profile: median {statistics.median(fmt_times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
