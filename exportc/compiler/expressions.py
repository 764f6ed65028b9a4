"""Python for the profile's expressions: values, operators, lookups, a value's XML text with its
facet checks, check messages, and (in coverage builds) the probes that record which way a
condition went. The statements around them are ``codegen``'s."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from exportc.compiler import ir
from exportc.compiler.codewriter import Code
from exportc.compiler.targets import facets_of
from exportc.diagnostics import Span
from exportc.values import format_value, xml_escape


@dataclass(frozen=True)
class Probe:
    """A coverage probe: a rule or check that ran (``outcome`` empty), or one way a ``when``,
    ``where`` or ``if`` went (``true``/``false``, ``then``/``else``), at a profile location."""

    kind: str
    outcome: str
    file: str
    line: int
    column: int


_SIMPLE_OPS = {"add": "+", "sub": "-", "mul": "*", "concat": "+", "eq": "==", "ne": "!=",
               "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NULLABLE_OPS = {"add": "n_add", "sub": "n_sub", "mul": "n_mul", "concat": "n_concat",
                 "div": "n_div", "neg": "n_neg"}


class Expressions:
    """Expression code, with the module constants (``K0``, facets ``F0``) it needs."""

    def __init__(self, probes: bool = False) -> None:
        # Coverage builds only (``exportc test --coverage``): what each probe id stands for.
        self.probes: list[Probe] | None = [] if probes else None
        self.here: Span | None = None  # the rule or clause whose expression is being generated
        self.consts: dict[str, str] = {}
        self.facets: dict[str, str] = {}

    def const(self, value: object) -> str:
        if value is None or isinstance(value, bool | int | str):
            return repr(value)
        if isinstance(value, Decimal):
            code = f"Decimal({format(value, 'f')!r})"
        elif isinstance(value, dt.datetime):
            code = f"datetime.fromisoformat({value.isoformat()!r})"
        elif isinstance(value, dt.date):
            code = f"date.fromisoformat({value.isoformat()!r})"
        else:  # pragma: no cover - literals are one of the above
            raise TypeError(value)
        name = self.consts.get(code)
        if name is None:
            name = self.consts[code] = f"K{len(self.consts)}"
        return name

    # -- expressions --
    def expr(self, e: ir.Expr) -> str:
        match e:
            case ir.Const(value=v):
                return self.const(v)
            case ir.FieldRef(depth=d, name=n):
                return f"r{d}[{n!r}]"
            case ir.ParamRef(name=n):
                return f"p_{n}"
            case ir.RunRef(name="change"):
                return "change"
            case ir.RunRef(name=n):
                return f"run_{n}"
            case ir.PreviousRef(name=n):
                return f"getf(previous, {n!r})"
            case ir.Lookup(table=t, key=k):
                return f"t_{t}.opt({self.expr(k)})" if k.type.nullable else f"t_{t}[{self.expr(k)}]"
            case ir.Cond(cond=c, then=a, otherwise=b) if self.probes is not None:
                then, other = self.probe_pair("if", ("then", "else"))
                return f"(cov_val({then}, {self.expr(a)}) if {self.expr(c)} else cov_val({other}, {self.expr(b)}))"
            case ir.Cond(cond=c, then=a, otherwise=b):
                return f"({self.expr(a)} if {self.expr(c)} else {self.expr(b)})"
            case ir.ListExpr(items=items):
                return "(" + "".join(self.expr(i) + ", " for i in items) + ")"
            case ir.Aggregate(fn="count", source=s):
                return f"len({self.expr(s)} or ())"
            case ir.Aggregate(fn="sum", source=s, body=None, type=t):
                start = "0" if t.name == "int" else "D0"
                return f"sum_of({self.expr(s)} or (), {start})"
            case ir.Aggregate(fn="min" | "max" as fn, source=s, elem_depth=d, body=body):
                assert body is not None
                return f"{fn}_of({self.expr(body)} for r{d} in ({self.expr(s)} or ()))"
            case ir.Aggregate(fn="sum", source=s, elem_depth=d, body=body, type=t):
                assert body is not None
                start = "0" if t.name == "int" else "D0"
                if not body.type.nullable:  # nothing to skip: the builtin over a list is faster
                    return f"sum([{self.expr(body)} for r{d} in ({self.expr(s)} or ())], {start})"
                return f"sum_of(({self.expr(body)} for r{d} in ({self.expr(s)} or ())), {start})"
            case ir.Op():
                return self.op(e)
        raise TypeError(f"cannot generate {e!r}")  # pragma: no cover

    def op(self, e: ir.Op) -> str:
        args = [self.expr(a) for a in e.args]
        nullable = any(a.type.nullable for a in e.args)
        if e.op in _NULLABLE_OPS and (nullable or e.op == "div"):
            fn = _NULLABLE_OPS[e.op] if nullable else "div"
            return f"{fn}({', '.join(args)})"
        if e.op in _SIMPLE_OPS:
            return f"({args[0]} {_SIMPLE_OPS[e.op]} {args[1]})"
        match e.op:
            case "neg":
                return f"(-{args[0]})"
            case "is_null":
                return f"({args[0]} is None)"
            case "not_null":
                return f"({args[0]} is not None)"
            case "and" | "or":
                return f"({args[0]} {e.op} {args[1]})"
            case "not":
                return f"(not {args[0]})"
            case "in":
                return f"({args[0]} in {args[1]})"
            case "not_in":
                return f"({args[0]} not in {args[1]})"
            case "date_add" | "date_sub" | "date_diff":
                return f"{e.op}({', '.join(args)})"
            case "get":
                return f"getf({args[0]}, {args[1]})"
        if e.op.startswith("fn_"):
            return f"{e.op}({', '.join(args)})"
        raise TypeError(f"unknown op {e.op}")  # pragma: no cover

    def slot_value(self, slot: ir.Slot) -> str:
        """The code of a slot's value: its expression's, or, for an amount with fixed decimals
        written to an xs:float/xs:double element, ``fixed_float`` of it, which gives its text
        (``text_of`` then has nothing left to do)."""
        places = _fixed_places(slot)
        if places is None:
            return self.expr(slot.expr)
        assert isinstance(slot.expr, ir.Op)
        at = (slot.span.file, slot.span.line)
        return (f"fixed_float({self.expr(slot.expr.args[0])}, {places}, "
                f"{slot.xsd.category.upper()}_MAX, {slot.target!r}, {at!r})")

    def rendered(self, var: str, slot: ir.Slot, attr: bool) -> str | Code:
        """A constant's XML text is computed now; anything else at run time."""
        if isinstance(slot.expr, ir.Const) and slot.expr.value is not None:
            text = format_value(slot.expr.value)
            return xml_escape(text, attr)
        return Code(self.text_of(var, slot, attr))

    def text_of(self, var: str, slot: ir.Slot, attr: bool) -> str:
        """Code for the XML text of a non-null value held in ``var``; a check of it names the
        rule that produced it (``at``), since one statement writes several rules' elements."""
        t = slot.expr.type.name
        at = (slot.span.file, slot.span.line)
        escape = ""  # the escaping function of a text, when it has one
        if _fixed_places(slot) is not None:
            conv = var  # ``slot_value`` made its text already
        elif t == "text" and isinstance(slot.expr, ir.Lookup) and self.plain_table(slot.expr.table):
            conv = var  # a code from a table whose every value is plain text: nothing to escape
        elif t == "text" or t == "any":
            escape = "esc_attr" if attr else "esc_text"
            conv = f"{escape}({var})"
        elif t in ("int", "decimal") and slot.xsd.category in ("float", "double"):
            # xs:float/xs:double accept any digits, but not every magnitude: bound it here
            conv = f"fmt_float({var}, {slot.xsd.category.upper()}_MAX, {slot.target!r}, {at!r})"
        elif t == "int":
            conv = f"str({var})"
        elif t == "decimal":
            conv = f"fmt_dec({var})"
        elif t == "bool":
            conv = f"('true' if {var} else 'false')"
        elif t in ("date", "datetime"):
            conv = f"{var}.isoformat()"
        else:
            conv = f"esc_text(str({var}))"
        facets = facets_of(slot.xsd)
        if t != "text":  # typed values are always lexically valid for their XSD type
            facets.pop("patterns", None)
        if set(facets) == {"max_length"} and escape:
            # escaped and its length checked in one call: check_len(esc_text(var), var, …) as one
            conv = f"{escape}_len({var}, {facets['max_length']}, {slot.target!r}, {at!r})"
        elif set(facets) == {"max_length"} and t in ("text", "any"):
            conv = f"check_len({conv}, {var}, {facets['max_length']}, {slot.target!r}, {at!r})"
        elif facets and not isinstance(slot.expr, ir.Const):
            key = repr(sorted(facets.items()))
            name = self.facets.get(key)
            if name is None:
                name = self.facets[key] = f"F{len(self.facets)}"
                self.consts[repr(facets)] = name
            conv = f"check_facets({conv}, {name}, {slot.target!r}, {at!r})"
        return conv

    def plain_table(self, name: str) -> bool:
        """Whether every value a lookup in table ``name`` can give is known now and needs no
        escaping (the generator knows the tables; this base class does not)."""
        return False

    # -- coverage probes --
    def probe(self, kind: str, outcome: str, span: Span | None) -> int:
        assert self.probes is not None
        at = span or self.here
        self.probes.append(Probe(kind, outcome, at.file if at else "", at.line if at else 0,
                                 at.column if at else 0))
        return len(self.probes) - 1

    def probe_pair(self, kind: str, outcomes: tuple[str, str]) -> tuple[int, int]:
        return self.probe(kind, outcomes[0], None), self.probe(kind, outcomes[1], None)

    def branch(self, kind: str, cond: ir.Expr, outcomes: tuple[str, str] = ("true", "false")) -> str:
        """A ``when``/``where`` condition or a check; in a coverage build it records which way
        it went."""
        if self.probes is None:
            return self.expr(cond)
        yes, no = self.probe_pair(kind, outcomes)
        return f"cov_if({yes}, {no}, {self.expr(cond)})"

    def message(self, message: ir.Message) -> str:
        """A check's message: a constant, or its text and ``{placeholder}`` values joined."""
        if all(isinstance(p, str) for p in message):
            return repr("".join(p for p in message if isinstance(p, str)))
        args = (repr(p) if isinstance(p, str) else self.expr(p) for p in message)
        return f"show_message({', '.join(args)})"


def _fixed_places(slot: ir.Slot) -> int | None:
    """The places of ``fixed(x, places)`` written to an xs:float/xs:double element, for a
    constant from 1 to 9 (what ``fixed_float`` takes); None for any other slot."""
    e = slot.expr
    if not (isinstance(e, ir.Op) and e.op == "fn_fixed" and slot.xsd.category in ("float", "double")):
        return None
    places = e.args[1]
    if isinstance(places, ir.Const) and type(places.value) is int and 0 < places.value < 10:
        return places.value
    return None
