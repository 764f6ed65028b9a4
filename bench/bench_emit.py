"""Benchmark of the emitter alone, on pre-typed in-memory records (no reading, history,
validation or start-up; for the whole path as a user runs it see bench_run.py): the compiled
Exact invoice emitter vs a hand-written lxml ``etree.xmlfile`` emitter vs a naive interpreter of
the same rules. Prints records/s, ratios and peak RSS.

    .venv/bin/python bench/bench_emit.py [--sizes 10000 100000]

Each measurement runs in a fresh subprocess so peak RSS is its own. All three write the same
invoices (100k invoices x 3 lines at the largest size) from the same generated typed records;
the script checks at 1,000 invoices that the three documents are canonically identical XML and
that the compiled one validates against eExact-XML.xsd.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "profiles/exact-online/exact-online.map"
PARAMS = {"invoice_export": "true"}


def records(n: int) -> Iterator[dict[str, Any]]:
    """Deterministic typed invoices with 3 lines each, generated lazily (flat memory)."""
    base = dt.date(2026, 1, 1)
    for i in range(n):
        lines = []
        total = Decimal("0.00")
        for r in range(3):
            sub = Decimal(10 + (i * 7 + r * 13) % 900) + Decimal(r * 25) / 100
            vat = (sub * Decimal("0.21")).quantize(Decimal("0.01"))
            total += sub + vat
            lines.append({"Regelnummer": r + 1, "Regelomschrijving": f"Huur & service <{r}> week {i % 52}",
                          "Regel_sub": sub, "BTW_bedrag": vat, "BTW_code": 21,
                          "Grootboekrekening": ("8000", "8010", "8020")[r],
                          "Datum_vanaf": base + dt.timedelta(days=i % 300),
                          "Datum_tot": base + dt.timedelta(days=i % 300 + 7) if r != 2 else None})
        yield {"Factuurnummer": f"2026{i:07d}", "Factuurdatum": base + dt.timedelta(days=i % 365),
               "Omschrijving": f"Verblijf {i} Ærø", "Kenmerk": None if i % 3 else f"R-{i}",
               "cust_id": i % 5000, "Factuurbedrag": total, "Regels": lines}


# ---- the three emitters --------------------------------------------------------------------

def emit_compiled(n: int, out: Path) -> None:
    _SETUP_DONE[0] = time.perf_counter()  # compile and bind happen below; excluded from the timing
    os.chdir(ROOT)
    import datetime as dt

    from exportc.artefact import RunValues
    from exportc.compiler.pipeline import compile_file
    from exportc.runtime.execute import bind_params, load_bind, load_tables

    art = compile_file(PROFILE).artefact
    assert art is not None
    run_values = RunValues(None, None, None, None, "test", dt.datetime.now(), art.name)
    bound = load_bind(art)(bind_params(art, PARAMS), load_tables(art), run_values, lambda *a: None)
    spec = next(b for b in art.blocks if b.element == "Invoice" and not b.uses_change)
    block = bound.blocks[spec.index].emit
    _SETUP_DONE[0] = time.perf_counter() - _SETUP_DONE[0]
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<eExact>\n  <Invoices>')
        for rec in records(n):
            buf: list[str] = []
            block(rec, "new", None, buf.append)
            fh.write("".join(buf))
        fh.write("\n  </Invoices>\n</eExact>\n")


def emit_lxml(n: int, out: Path) -> None:
    """How an integrator writes it by hand: etree.xmlfile + SubElement per invoice."""
    from lxml import etree

    vat = {21: "2", 9: "1", 0: "0", 8: "12"}
    article = {"8000": "STANDAARD", "8010": "VERBLIJF", "8020": "SCHOONMAAK"}
    with etree.xmlfile(str(out), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("eExact"), xf.element("Invoices"):
            for rec in records(n):
                inv = etree.Element("Invoice", ordernumber=rec["Factuurnummer"])
                etree.SubElement(inv, "Journal", code="70")
                etree.SubElement(inv, "OrderDate").text = rec["Factuurdatum"].isoformat()
                etree.SubElement(inv, "Description").text = rec["Omschrijving"]
                if rec["Kenmerk"] is not None:
                    etree.SubElement(inv, "YourRef").text = rec["Kenmerk"]
                code = str(rec["cust_id"]).rjust(8, "0")
                etree.SubElement(inv, "OrderedBy", code=code)
                etree.SubElement(inv, "InvoiceTo", code=code)
                fa = etree.SubElement(inv, "ForeignAmount")
                etree.SubElement(fa, "Currency", code="EUR")
                etree.SubElement(fa, "Value").text = format(rec["Factuurbedrag"], "f")
                for line in rec["Regels"]:
                    el = etree.SubElement(inv, "InvoiceLine", line=str(line["Regelnummer"]))
                    etree.SubElement(el, "Description").text = line["Regelomschrijving"]
                    etree.SubElement(el, "Item", code=article[line["Grootboekrekening"]])
                    etree.SubElement(el, "Quantity").text = "1"
                    np = etree.SubElement(el, "NetPrice")
                    etree.SubElement(np, "Currency", code="EUR")
                    etree.SubElement(np, "Value").text = format(line["Regel_sub"], "f")
                    etree.SubElement(np, "VAT", code=vat[line["BTW_code"]])
                    fa = etree.SubElement(el, "ForeignAmount")
                    etree.SubElement(fa, "Currency", code="EUR")
                    etree.SubElement(fa, "Value").text = format(line["Regel_sub"], "f")
                    if line["Datum_vanaf"] is not None:
                        etree.SubElement(el, "StartDate").text = line["Datum_vanaf"].isoformat()
                    if line["Datum_tot"] is not None:
                        etree.SubElement(el, "EndDate").text = line["Datum_tot"].isoformat()
                xf.write(inv)


def emit_interpreted(n: int, out: Path) -> None:
    """A naive interpreter: walks the profile's AST rules per record, evaluating expressions
    by recursion and ordering children by looking schema positions up at run time."""
    os.chdir(ROOT)
    from xml.sax.saxutils import escape, quoteattr

    from exportc.compiler.pipeline import compile_file
    from exportc.compiler.schema import ComplexType, load_model
    from exportc.dsl import ast
    from exportc.runtime.execute import bind_params, load_tables
    from exportc.values import format_value

    _SETUP_DONE[0] = time.perf_counter()
    result = compile_file(PROFILE)
    assert result.module is not None and result.artefact is not None
    art = result.artefact
    params = bind_params(art, PARAMS)
    tables = load_tables(art)
    lets = {i.name: i.value for i in result.module.items if isinstance(i, ast.LetDecl)}
    from exportc.dsl.formatter import format_expr
    block = next(i for i in result.module.items if isinstance(i, ast.Block) and i.path == "Invoices/Invoice"
                 and "change" not in format_expr(i.where or ast.Literal(True)))
    model = load_model(Path(art.schema_path))

    def child_type(ctype: Any, name: str) -> Any:
        p = ctype.child(name)
        return model.types[p.type_id], p.position

    def ev(e: Any, env: list[dict[str, Any]]) -> Any:
        match e:
            case ast.Literal(value=v):
                return v
            case ast.Name(id=name):
                for scope in reversed(env):
                    if name in scope:
                        return scope[name]
                if name in lets:
                    return ev(lets[name], env)
                return params[name]
            case ast.Attr(obj=ast.Name(id="run")):
                return None  # run.description etc.: not given in the benchmark
            case ast.Attr(obj=ast.Name(id=o), name=f):
                return [x[f] for x in ev(ast.Name(o), env)]
            case ast.Index(obj=ast.Name(id=t), key=k):
                return tables[t](ev(k, env))
            case ast.BinOp(op=op, left=a, right=b):
                x, y = ev(a, env), ev(b, env)
                if isinstance(x, list):
                    return [p + q for p, q in zip(x, y, strict=True)]
                return None if x is None or y is None else (x + y if op == "+" else x - y)
            case ast.Call(func="pad", args=(a, b)):
                return str(ev(a, env)).rjust(ev(b, env), "0")
            case ast.Call(func="sum", args=(a,)):
                return sum(ev(a, env), Decimal(0))
            case ast.If(cond=c, then=t, otherwise=o):
                return ev(t, env) if ev(c, env) else ev(o, env)
            case ast.Compare(op="==", left=a, right=b):
                return ev(a, env) == ev(b, env)
        raise NotImplementedError(e)

    def render(name: str, ctype: Any, items: Any, env: list[dict[str, Any]], depth: int) -> str:
        tree: dict[str, Any] = {"@": {}, "kids": [], "text": None}
        for item in items:
            if isinstance(item, ast.Rule):
                node, t = tree, ctype
                parts = item.target.split("/")
                for seg in parts[:-1]:
                    t, pos = child_type(t, seg)
                    found = next((k for k in node["kids"] if k[1] == seg and isinstance(k[2], dict)), None)
                    if found is None:
                        found = (pos, seg, {"@": {}, "kids": [], "text": None, "type": t})
                        node["kids"].append(found)
                    node = found[2]
                value = ev(item.value, env)
                if value is None:
                    continue
                if parts[-1].startswith("@"):
                    node["@"][parts[-1][1:]] = format_value(value)
                else:
                    _, pos = child_type(t, parts[-1])
                    node["kids"].append((pos, parts[-1], format_value(value)))
            elif isinstance(item, ast.Block) and item.for_:
                t, pos = child_type(ctype, item.path)
                for elem in ev(ast.Name(item.for_), env):
                    tree["kids"].append((pos, item.path, render(item.path, t, item.items, [*env, elem], depth + 1)))

        def out(n: str, node: dict[str, Any], d: int) -> str:
            attrs = "".join(f" {k}={quoteattr(v)}" for k, v in node["@"].items())
            kids = sorted(node["kids"], key=lambda k: k[0])
            if not kids:
                return f"\n{'  ' * d}<{n}{attrs}/>"
            body = "".join(k[2] if isinstance(k[2], str) and k[2].startswith("\n") else
                           out(k[1], k[2], d + 1) if isinstance(k[2], dict) else
                           f"\n{'  ' * (d + 1)}<{k[1]}>{escape(k[2])}</{k[1]}>" for k in kids)
            return f"\n{'  ' * d}<{n}{attrs}>{body}\n{'  ' * d}</{n}>"
        return out(name, tree, depth)

    root_t = model.type_of(model.roots["eExact"])
    assert isinstance(root_t, ComplexType)
    inv_t, _ = child_type(child_type(root_t, "Invoices")[0], "Invoice")
    _SETUP_DONE[0] = time.perf_counter() - _SETUP_DONE[0]
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<eExact>\n  <Invoices>')
        for rec in records(n):
            fh.write(render("Invoice", inv_t, block.items, [rec], 2))
        fh.write("\n  </Invoices>\n</eExact>\n")


_SETUP_DONE = [0.0]  # seconds of compile/bind setup inside an emitter, subtracted from its time


def generate_only(n: int, out: Path) -> None:
    """The shared cost of producing the typed records, for reference."""
    for _ in records(n):
        pass


EMITTERS = {"compiled": emit_compiled, "lxml-xmlfile": emit_lxml, "interpreter": emit_interpreted}


def _child(which: str, n: int, out: str) -> None:
    start = time.perf_counter()
    ({**EMITTERS, "generate": generate_only})[which](n, Path(out))
    elapsed = time.perf_counter() - start - _SETUP_DONE[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "rss_mib": rss}))


def _measure(which: str, n: int, out: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", which, str(n), str(out)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _same_documents(tmp: Path) -> None:
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True)
    docs = {}
    for which in EMITTERS:
        path = tmp / f"check-{which}.xml"
        _measure(which, 1000, path)
        docs[which] = etree.tostring(etree.parse(str(path), parser), method="c14n2")
    assert docs["compiled"] == docs["lxml-xmlfile"] == docs["interpreter"], "outputs differ"
    schema = etree.XMLSchema(etree.parse(str(ROOT.parent / "shared/reference/exact-online/eExact-XML.xsd")))
    assert schema.validate(etree.parse(str(tmp / "check-compiled.xml"))), schema.error_log
    print("check: the three emitters write canonically identical XML; it validates against eExact-XML.xsd")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2])
        return
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "exportc-bench"
    tmp.mkdir(exist_ok=True)
    _same_documents(tmp)
    for n in args.sizes:
        gen = _measure("generate", n, tmp / "none")
        print(f"generating {n:,} typed invoices alone takes {gen['seconds']:.2f}s (included below)")
    print(f"{'invoices':>9} {'emitter':>13} {'seconds':>8} {'invoices/s':>11} {'vs lxml':>8} {'peak RSS':>9}")
    for n in args.sizes:
        results = {w: _measure(w, n, tmp / f"{w}-{n}.xml") for w in EMITTERS}
        base = results["lxml-xmlfile"]["seconds"]
        for w, r in results.items():
            print(f"{n:>9} {w:>13} {r['seconds']:>8.2f} {n / r['seconds']:>11,.0f} "
                  f"{base / r['seconds']:>7.2f}x {r['rss_mib']:>6.0f} MiB")
        c, i = results["compiled"]["seconds"], results["interpreter"]["seconds"]
        print(f"{n:>9} compiled is {base / c:.2f}x the lxml emitter and {i / c:.2f}x the interpreter")


if __name__ == "__main__":
    main()
