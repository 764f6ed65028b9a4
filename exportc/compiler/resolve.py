"""Resolve names and check types: AST expressions become typed IR expressions.

Bare names resolve to the current record's fields, then enclosing records', then ``let``s
(innermost first) and params; a name that is a field at two record levels is ambiguous and must
be qualified. Lets are inlined where they are used, so a top-level ``let`` may use fields of
whatever record it is used in. ``X != null`` in a ``when``/``where``/``if`` narrows ``X`` to
non-null where it holds.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from exportc import artefact
from exportc.compiler import ir
from exportc.compiler.functions import AGGREGATES, ALL_NAMES, FUNCTIONS, SET_CHECKS, SignatureError
from exportc.compiler.types import (
    ANY,
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    NULL,
    TEXT,
    Type,
    assignable,
    list_of,
    unify,
)
from exportc.diagnostics import Diagnostic, Span, error
from exportc.dsl import ast

_RUN_TYPES: dict[str, Type] = {
    "from": DATE.or_null(), "to": DATE.or_null(), "booking_date": DATE.or_null(),
    "description": TEXT.or_null(), "mode": TEXT, "started": DATETIME, "profile": TEXT,
}
# The run fields a profile may read are the contract's (``artefact.RUN_FIELDS``), with their types.
RUN_FIELDS: dict[str, Type] = {name: _RUN_TYPES[name] for name in artefact.RUN_FIELDS}
_ERR = ir.Const(None, ANY)


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def fact_key(e: ir.Expr) -> tuple[object, ...] | None:
    """A structural key for a reference whose null-ness a condition can establish."""
    match e:
        case ir.FieldRef(depth=d, name=n):
            return ("f", d, n)
        case ir.ParamRef(name=n):
            return ("p", n)
        case ir.RunRef(name=n):
            return ("r", n)
        case ir.PreviousRef(name=n):
            return ("prev", n)
    return None


def facts_of(cond: ir.Expr, negated: bool = False) -> frozenset[tuple[object, ...]]:
    """References known non-null where ``cond`` is true (or false, when ``negated``)."""
    match cond:
        case ir.Op(op="not_null", args=(x,)) if not negated:
            k = fact_key(x)
            return frozenset([k]) if k else frozenset()
        case ir.Op(op="is_null", args=(x,)) if negated:
            k = fact_key(x)
            return frozenset([k]) if k else frozenset()
        case ir.Op(op="and", args=(a, b)) if not negated:
            return facts_of(a) | facts_of(b)
        case ir.Op(op="or", args=(a, b)) if negated:
            return facts_of(a, True) | facts_of(b, True)
        case ir.Op(op="not", args=(a,)):
            return facts_of(a, not negated)
    return frozenset()


@dataclass(frozen=True)
class Frame:
    """A record in scope: the aliases it can be qualified with, its shape, its depth."""

    aliases: tuple[str, ...]
    shape: ir.SourceShape
    depth: int
    shadows: bool = False  # a group frame: its fields hide the enclosing records' ones


@dataclass(frozen=True)
class Scope:
    frames: tuple[Frame, ...] = ()
    lets: tuple[dict[str, ast.LetDecl], ...] = ()
    facts: frozenset[tuple[object, ...]] = frozenset()
    top_record: bool = False  # inside a top-level ``for``: change / previous are available

    def push_frame(self, frame: Frame) -> Scope:
        return replace(self, frames=(*self.frames, frame))

    def push_lets(self, lets: dict[str, ast.LetDecl]) -> Scope:
        return replace(self, lets=(*self.lets, lets))

    def with_facts(self, facts: frozenset[tuple[object, ...]]) -> Scope:
        return replace(self, facts=self.facts | facts)


@dataclass
class _Projection:
    elem_depth: int
    source: ir.FieldRef | ir.PreviousRef | None = None
    shape: ir.SourceShape | None = None
    name: str = ""


@dataclass
class Resolver:
    """Resolves expressions against declarations; collects diagnostics."""

    params: dict[str, ir.Param]
    tables: dict[str, ir.Table]
    sources: dict[str, ir.SourceShape]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _let_stack: list[str] = field(default_factory=list)
    _projection: _Projection | None = None

    def err(self, code: str, message: str, span: Span | None, hint: str | None = None) -> ir.Expr:
        self.diagnostics.append(error(code, message, span, hint))
        return _ERR

    # -- entry points --
    def expr(self, e: ast.Expr, scope: Scope) -> ir.Expr:
        method = getattr(self, f"visit_{type(e).__name__}")
        result: ir.Expr = method(e, scope)
        return result

    def condition(self, e: ast.Expr, scope: Scope, what: str) -> ir.Expr:
        """A bool, non-null expression (``when``, ``where``, ``check``, ``if``)."""
        result = self.expr(e, scope)
        t = result.type
        if t.name not in ("bool", "any"):
            return self.err("E0211", f"{what} must be true or false, but this is {t}", e.span,
                            "compare it: `x != null`, `x == 1`, `x in [1, 2]`")
        if t.nullable:
            return self.err("E0211", f"{what} may be null", e.span,
                            "use coalesce(x, false), or test the value with `!= null` first")
        return result

    def message(self, parts: tuple[str | ast.Expr, ...], scope: Scope) -> ir.Message:
        """A check message: its text, and each ``{placeholder}`` resolved like any expression
        (a list cannot be shown: it is aggregated or iterated instead)."""
        out: list[str | ir.Expr] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self.expr(part, scope)
            if value.type.name == "list":
                value = self.err("E0219", "a list cannot be shown in a message", part.span,
                                 "show one value, or aggregate: `{count(Regels)}`")
            out.append(value)
        return tuple(out)

    # -- literals and lists --
    def visit_Literal(self, e: ast.Literal, scope: Scope) -> ir.Expr:
        return ir.Const(e.value, literal_type(e.value))

    def visit_ListLiteral(self, e: ast.ListLiteral, scope: Scope) -> ir.Expr:
        items = tuple(self.expr(i, scope) for i in e.items)
        elem: Type | None = None
        for item, node in zip(items, e.items, strict=True):
            elem = item.type if elem is None else unify(elem, item.type)
            if elem is None:
                return self.err("E0205", f"list items of different types ({items[0].type} and "
                                f"{item.type})", node.span)
        return ir.ListExpr(items, list_of(elem) if elem else Type("list"))

    # -- names --
    def _narrow(self, ref: ir.Expr, scope: Scope) -> ir.Expr:
        key = fact_key(ref)
        if key in scope.facts and ref.type.nullable:
            return replace(ref, type=ref.type.non_null())  # type: ignore[type-var]
        return ref

    def _field(self, frame: Frame, name: str, scope: Scope) -> ir.Expr | None:
        shape = frame.shape
        if name in shape.fields:
            t = shape.fields[name]
        elif name in shape.lists:
            t = Type("list", elem=Type("record", record=shape.lists[name].name),
                     record=shape.lists[name].name)
        elif name in shape.refs:
            t = Type("record", nullable=True, record=shape.refs[name][0])
        else:
            return None
        return self._narrow(ir.FieldRef(frame.depth, name, t), scope)

    def visible_names(self, scope: Scope) -> list[str]:
        names: list[str] = []
        for f in scope.frames:
            names += [*f.shape.fields, *f.shape.lists, *f.shape.refs, *f.aliases]
        for lets in scope.lets:
            names += list(lets)
        return [*names, *self.params, "run", *(["change", "previous"] if scope.top_record else [])]

    def visit_Name(self, e: ast.Name, scope: Scope) -> ir.Expr:
        found = [(f, r) for f in reversed(scope.frames)
                 if (r := self._field(f, e.id, scope)) is not None]
        if found and found[0][0].shadows:
            found = found[:1]
        if len(found) > 1:
            (inner, _), (outer, _) = found[0], found[1]
            return self.err("E0206", f"`{e.id}` is ambiguous: a field of both `{inner.aliases[0]}` "
                            f"and `{outer.aliases[0]}`", e.span,
                            f"qualify it: `{inner.aliases[0]}.{e.id}` or `{outer.aliases[0]}.{e.id}`")
        if found:
            return found[0][1]
        for lets in reversed(scope.lets):
            if e.id in lets:
                return self._let(lets[e.id], e, scope)
        if e.id in self.params:
            p = self.params[e.id]
            return self._narrow(ir.ParamRef(p.name, p.type), scope)
        if e.id == "change":
            if not scope.top_record:
                return self.err("E0218", "`change` is only known inside a block that runs "
                                "`for` a source", e.span)
            return ir.RunRef("change", TEXT)
        if e.id in self.tables:
            return self.err("E0207", f"`{e.id}` is a table; look a key up in it: `{e.id}[key]`",
                            e.span)
        if e.id in self.sources or e.id == "run" or e.id == "previous":
            return self.err("E0201", f"`{e.id}` is not a value; name one of its fields: "
                            f"`{e.id}.field`", e.span)
        return self.err("E0201", f"unknown name `{e.id}`", e.span,
                        did_you_mean(e.id, self.visible_names(scope)))

    def _let(self, let: ast.LetDecl, use: ast.Name, scope: Scope) -> ir.Expr:
        if let.name in self._let_stack:
            cycle = " -> ".join([*self._let_stack[self._let_stack.index(let.name):], let.name])
            return self.err("E0213", f"`let {let.name}` refers to itself ({cycle})", let.span)
        self._let_stack.append(let.name)
        try:
            # a let sees the lets declared beside and above it, not the ones below its use
            return self.expr(let.value, scope)
        finally:
            self._let_stack.pop()

    def visit_Attr(self, e: ast.Attr, scope: Scope) -> ir.Expr:
        if isinstance(e.obj, ast.Name):
            base = e.obj.id
            if base == "run" and not any(base in f.aliases for f in scope.frames):
                if e.name not in RUN_FIELDS:
                    return self.err("E0221", f"`run` has no field `{e.name}`", e.span,
                                    did_you_mean(e.name, RUN_FIELDS) or
                                    "run fields: " + ", ".join(RUN_FIELDS))
                return self._narrow(ir.RunRef(e.name, RUN_FIELDS[e.name]), scope)
            if base == "previous":
                return self._previous(e, scope)
            for frame in reversed(scope.frames):
                if base in frame.aliases:
                    ref = self._field(frame, e.name, scope)
                    if ref is None:
                        return self._no_field(frame.shape, e, base)
                    return ref
        obj = self.expr(e.obj, scope)
        if obj.type.name == "list" and obj.type.record and isinstance(obj, ir.FieldRef | ir.PreviousRef):
            return self._project(obj, e)
        if obj.type.name == "record" and obj.type.record in self.sources:
            shape = self.sources[obj.type.record]
            t = shape.fields.get(e.name)
            if t is None:
                return self._no_field(shape, e, obj.type.record)
            return ir.Op("get", (obj, ir.Const(e.name, TEXT)), t.or_null() if obj.type.nullable else t)
        if obj.type.name == "any":
            return _ERR
        return self.err("E0210", f"a value of type {obj.type} has no fields", e.span)

    def _no_field(self, shape: ir.SourceShape, e: ast.Attr, owner: str) -> ir.Expr:
        names = [*shape.fields, *shape.lists, *shape.refs]
        return self.err("E0210", f"`{owner}` has no field `{e.name}`", e.span,
                        did_you_mean(e.name, names))

    def _previous(self, e: ast.Attr, scope: Scope) -> ir.Expr:
        if not scope.top_record or not scope.frames:
            return self.err("E0218", "`previous` is only known inside a block that runs `for` "
                            "a source", e.span)
        shape = scope.frames[0].shape
        if e.name in shape.lists:
            sub = shape.lists[e.name]
            return ir.PreviousRef(e.name, Type("list", elem=Type("record", record=sub.name),
                                               record=sub.name))
        if e.name in shape.refs:  # the referenced record as it was delivered
            return ir.PreviousRef(e.name, Type("record", nullable=True, record=shape.refs[e.name][0]))
        t = shape.fields.get(e.name)
        if t is None:
            return self._no_field(shape, e, "previous")
        # A block that uses `previous` runs only for records delivered before, so the
        # delivered values are there whenever it runs.
        return ir.PreviousRef(e.name, t)

    def _project(self, source: ir.FieldRef | ir.PreviousRef, e: ast.Attr) -> ir.Expr:
        proj = self._projection
        name = source.name
        if proj is None:
            return self.err("E0219", f"`{name}.{e.name}` is a list of values", e.span,
                            f"aggregate it: `sum({name}.{e.name})`, or write a block "
                            f"`... for {name} {{ }}`")
        if proj.source is not None and proj.source != source:
            return self.err("E0219", f"one aggregate cannot range over both `{proj.name}` and "
                            f"`{name}`", e.span)
        shape = self._list_shape(source)
        proj.source, proj.shape, proj.name = source, shape, name
        t = shape.fields.get(e.name) if shape else None
        if t is None or shape is None:
            return self.err("E0210", f"`{name}` has no field `{e.name}`", e.span,
                            did_you_mean(e.name, shape.fields if shape else ()))
        return ir.FieldRef(proj.elem_depth, e.name, t)

    def _list_shape(self, ref: ir.FieldRef | ir.PreviousRef) -> ir.SourceShape | None:
        for shape in _all_shapes(self.sources):
            if ref.type.record == shape.name:
                return shape
        return None

    def visit_Index(self, e: ast.Index, scope: Scope) -> ir.Expr:
        if not isinstance(e.obj, ast.Name) or e.obj.id not in self.tables:
            what = e.obj.id if isinstance(e.obj, ast.Name) else "this"
            return self.err("E0207", f"`{what}` is not a table", e.obj.span,
                            did_you_mean(what, self.tables) or
                            (f"tables: {', '.join(self.tables)}" if self.tables else None))
        table = self.tables[e.obj.id]
        key = self.expr(e.key, scope)
        if not assignable(key.type, table.key_type) and key.type.name != "any":
            return self.err("E0204", f"table `{table.name}` has {table.key_type} keys, but this "
                            f"key is {key.type}", e.key.span)
        return ir.Lookup(table.name, key, table.value_type.or_null() if key.type.nullable
                         else table.value_type)

    # -- operators --
    def visit_BinOp(self, e: ast.BinOp, scope: Scope) -> ir.Expr:
        a, b = self.expr(e.left, scope), self.expr(e.right, scope)
        ta, tb = a.type, b.type
        if "any" in (ta.name, tb.name):
            return _ERR
        nullable = ta.nullable or tb.nullable
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[e.op]
        result: Type | None = None
        if e.op == "+" and ta.name == tb.name == "text":
            op, result = "concat", TEXT
        elif ta.is_numeric and tb.is_numeric:
            result = INT if ta.name == tb.name == "int" and e.op != "/" else DECIMAL
        elif ta.name == "date" and tb.name == "int" and e.op in "+-":
            op, result = f"date_{op}", DATE
        elif ta.name == tb.name == "date" and e.op == "-":
            op, result = "date_diff", INT
        if result is None:
            hint = ("to build text from other values use join(\"\", a, b) or text(x)"
                    if "text" in (ta.name, tb.name) else None)
            return self.err("E0205", f"cannot apply `{e.op}` to {ta} and {tb}", e.span, hint)
        return ir.Op(op, (a, b), result.or_null() if nullable else result)

    def visit_Neg(self, e: ast.Neg, scope: Scope) -> ir.Expr:
        a = self.expr(e.operand, scope)
        if not a.type.is_numeric and a.type.name != "any":
            return self.err("E0205", f"cannot negate {a.type}", e.span)
        return ir.Op("neg", (a,), a.type)

    def visit_Compare(self, e: ast.Compare, scope: Scope) -> ir.Expr:
        a, b = self.expr(e.left, scope), self.expr(e.right, scope)
        if "any" in (a.type.name, b.type.name):
            return ir.Op("eq", (a, b), BOOL)
        if e.op in ("==", "!="):
            if b.type.name == "null" or a.type.name == "null":
                x = a if b.type.name == "null" else b
                return ir.Op("is_null" if e.op == "==" else "not_null", (x,), BOOL)
            if unify(a.type, b.type) is None:
                return self.err("E0205", f"cannot compare {a.type} with {b.type}", e.span)
            return ir.Op("eq" if e.op == "==" else "ne", (a, b), BOOL)
        common = unify(a.type, b.type)
        if common is None or common.name not in ("int", "decimal", "text", "date", "datetime"):
            return self.err("E0205", f"cannot order {a.type} and {b.type} with `{e.op}`", e.span)
        for side, node in ((a, e.left), (b, e.right)):
            if side.type.nullable:
                return self.err("E0209", f"this may be null, so `{e.op}` has no answer",
                                node.span, "test it with `!= null` first, or use coalesce()")
        ops = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
        return ir.Op(ops[e.op], (a, b), BOOL)

    def visit_BoolOp(self, e: ast.BoolOp, scope: Scope) -> ir.Expr:
        a = self.condition(e.left, scope, f"the left side of `{e.op}`")
        inner = scope.with_facts(facts_of(a, negated=e.op == "or"))
        b = self.condition(e.right, inner, f"the right side of `{e.op}`")
        return ir.Op(e.op, (a, b), BOOL)

    def visit_Not(self, e: ast.Not, scope: Scope) -> ir.Expr:
        return ir.Op("not", (self.condition(e.operand, scope, "the operand of `not`"),), BOOL)

    def visit_In(self, e: ast.In, scope: Scope) -> ir.Expr:
        item, container = self.expr(e.item, scope), self.expr(e.container, scope)
        if container.type.name == "any" or item.type.name == "any":
            return _ERR
        if container.type.name != "list":
            return self.err("E0205", f"`in` needs a list on its right, not {container.type}",
                            e.container.span, "write a list literal `[1, 2]` or use a list param")
        elem = container.type.elem
        if elem is not None and not assignable(item.type, elem) and not assignable(elem, item.type):
            return self.err("E0205", f"a {item.type} is never in a list of {elem}", e.span)
        return ir.Op("not_in" if e.negated else "in", (item, container), BOOL)

    def visit_If(self, e: ast.If, scope: Scope) -> ir.Expr:
        cond = self.condition(e.cond, scope, "an `if` condition")
        then = self.expr(e.then, scope.with_facts(facts_of(cond)))
        other = self.expr(e.otherwise, scope.with_facts(facts_of(cond, negated=True)))
        t = unify(then.type, other.type)
        if t is None:
            return self.err("E0205", f"the branches of this `if` differ: {then.type} and "
                            f"{other.type}", e.span)
        return ir.Cond(cond, then, other, t)

    # -- calls --
    def visit_Call(self, e: ast.Call, scope: Scope) -> ir.Expr:
        if e.func in AGGREGATES:
            return self._aggregate(e, scope)
        if e.func in ("min", "max") and len(e.args) == 1:  # over a list: `min(Regels.Datum_vanaf)`
            return self._extreme(e, scope)
        if e.func in SET_CHECKS:
            return self.err("E0220", f"`{e.func}` checks a whole set of records; use it as "
                            f"`check {SET_CHECKS[e.func]} else error \"...\"` in a `for` block",
                            e.span)
        fn = FUNCTIONS.get(e.func)
        if fn is None:
            return self.err("E0202", f"unknown function `{e.func}`", e.span,
                            did_you_mean(e.func, ALL_NAMES))
        args = tuple(self.expr(a, scope) for a in e.args)
        if any(a.type.name == "any" for a in args):
            return _ERR
        try:
            result = fn.check([a.type for a in args])
        except SignatureError as exc:
            span = e.args[exc.index].span if exc.index is not None else e.span
            return self.err("E0204" if exc.index is not None else "E0203",
                            f"{e.func}(): {exc}", span, f"signature: {fn.signature}")
        return ir.Op(f"fn_{e.func}", args, result)

    def _projected(self, arg: ast.Expr, scope: Scope) -> tuple[ir.Expr, _Projection]:
        """The argument of an aggregate (sum, count, min, max), with the list it projects over
        (``Regels.Regel_sub`` projects over ``Regels``)."""
        outer, self._projection = self._projection, _Projection(len(scope.frames))
        try:
            return self.expr(arg, scope), self._projection
        finally:
            self._projection = outer

    def _aggregate(self, e: ast.Call, scope: Scope) -> ir.Expr:
        if len(e.args) != 1:
            return self.err("E0203", f"{e.func}() takes one argument, got {len(e.args)}", e.span,
                            f"signature: {AGGREGATES[e.func]}")
        body, proj = self._projected(e.args[0], scope)
        if e.func == "count":
            if proj.source is not None:
                return self.err("E0219", "count() takes the list itself: `count(Regels)`",
                                e.args[0].span)
            if body.type.name != "list":
                return self.err("E0204", f"count() needs a list, not {body.type}", e.args[0].span)
            return ir.Aggregate("count", body, proj.elem_depth, None, INT)
        if proj.source is None:
            if body.type.name == "list" and body.type.elem and body.type.elem.is_numeric:
                return ir.Aggregate("sum", body, proj.elem_depth, None, body.type.elem.non_null())
            if body.type.name == "any":
                return _ERR
            return self.err("E0204", "sum() needs the field of a list: `sum(Regels.Regel_sub)`",
                            e.args[0].span)
        if not body.type.is_numeric:
            return self.err("E0204", f"sum() adds numbers, but this is {body.type}",
                            e.args[0].span)
        return ir.Aggregate("sum", proj.source, proj.elem_depth, body, body.type.non_null())

    def _extreme(self, e: ast.Call, scope: Scope) -> ir.Expr:
        """``min``/``max`` of one argument: the smallest or largest value over a list's elements
        (nulls skipped; null when there is none)."""
        body, proj = self._projected(e.args[0], scope)
        if body.type.name == "any":
            return _ERR
        if proj.source is None or body.type.name not in ("int", "decimal", "date", "datetime", "text"):
            return self.err("E0204", f"{e.func}() of one value needs the field of a list: "
                            f"`{e.func}(Regels.Datum_vanaf)`", e.args[0].span,
                            f"or compare values: `{e.func}(a, b)`")
        return ir.Aggregate(e.func, proj.source, proj.elem_depth, body, body.type.or_null())


def literal_type(value: object) -> Type:
    """The type of a literal value."""
    import datetime as dt
    from decimal import Decimal

    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, Decimal):
        return DECIMAL
    if isinstance(value, dt.datetime):
        return DATETIME
    if isinstance(value, dt.date):
        return DATE
    return TEXT


def _all_shapes(sources: dict[str, ir.SourceShape]) -> list[ir.SourceShape]:
    out: list[ir.SourceShape] = []

    def walk(s: ir.SourceShape) -> None:
        out.append(s)
        for sub in s.lists.values():
            walk(sub)
    for s in sources.values():
        walk(s)
    return out
