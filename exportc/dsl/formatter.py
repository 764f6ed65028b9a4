"""``exportc fmt``: the canonical layout of a profile.

The layout is computed from the AST, so it is idempotent by construction; comments are carried
along by line: a comment on its own line stays above the item that follows it, a comment at the
end of a line stays at the end of that line's last item. No comment is ever dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from exportc.dsl import ast

_INDENT = "  "
_ALIGN_MAX = 40  # rules whose value is wider than this are not aligned

# Precedence levels; higher binds tighter. Mirrors grammar.lark.
_IF, _OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(10)
_BINOP_PREC = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}


def format_literal(value: object) -> str:
    """A literal as profile source."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                   .replace("\t", "\\t").replace("\r", "\\r"))
        return f'"{escaped}"'
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _prec(e: ast.Expr) -> int:
    match e:
        case ast.If():
            return _IF
        case ast.BoolOp(op="or"):
            return _OR
        case ast.BoolOp():
            return _AND
        case ast.Not():
            return _NOT
        case ast.Compare() | ast.In():
            return _CMP
        case ast.BinOp(op=op):
            return _BINOP_PREC[op]
        case ast.Neg():
            return _UNARY
        case ast.Literal(value=v) if isinstance(v, int | Decimal) and not isinstance(v, bool) and v < 0:
            return _UNARY
        case ast.Attr() | ast.Index() | ast.Call():
            return _POSTFIX
    return _ATOM


def format_expr(e: ast.Expr, min_prec: int = _IF) -> str:
    """An expression with the fewest parentheses that keep its meaning."""
    text = _expr(e)
    return f"({text})" if _prec(e) < min_prec else text


def _expr(e: ast.Expr) -> str:
    match e:
        case ast.Literal(value=v):
            return format_literal(v)
        case ast.Name(id=name):
            return name
        case ast.Attr(obj=obj, name=name):
            return f"{format_expr(obj, _POSTFIX)}.{name}"
        case ast.Index(obj=obj, key=key):
            return f"{format_expr(obj, _POSTFIX)}[{format_expr(key)}]"
        case ast.Call(func=func, args=args):
            return f"{func}({', '.join(format_expr(a) for a in args)})"
        case ast.ListLiteral(items=items):
            return f"[{', '.join(format_expr(a) for a in items)}]"
        case ast.BinOp(op=op, left=left, right=right):
            p = _BINOP_PREC[op]
            return f"{format_expr(left, p)} {op} {format_expr(right, p + 1)}"
        case ast.Compare(op=op, left=left, right=right):
            return f"{format_expr(left, _SUM)} {op} {format_expr(right, _SUM)}"
        case ast.BoolOp(op=op, left=left, right=right):
            p = _OR if op == "or" else _AND
            return f"{format_expr(left, p)} {op} {format_expr(right, p + 1)}"
        case ast.Not(operand=operand):
            return f"not {format_expr(operand, _NOT)}"
        case ast.Neg(operand=operand):
            return f"-{format_expr(operand, _UNARY)}"
        case ast.In(item=item, container=container, negated=negated):
            op = "not in" if negated else "in"
            return f"{format_expr(item, _SUM)} {op} {format_expr(container, _SUM)}"
        case ast.If(cond=cond, then=then, otherwise=otherwise):
            return f"if {format_expr(cond)} then {format_expr(then)} else {format_expr(otherwise)}"
    raise TypeError(f"not an expression: {e!r}")  # pragma: no cover


def format_rule_value(e: ast.Expr) -> str:
    """A rule's value: no bare comparison (``>`` separates value and target)."""
    if isinstance(e, ast.If):
        return (f"if {format_expr(e.cond)} then {format_rule_value(e.then)} "
                f"else {format_rule_value(e.otherwise)}")
    return format_expr(e, _SUM)


def format_type(t: ast.TypeRef) -> str:
    """A type as written: ``decimal?``, ``list[int]``."""
    base = f"list[{format_type(t.args[0])}]" if t.name == "list" and t.args else t.name
    return base + ("?" if t.nullable else "")


class _Writer:
    def __init__(self, comments: Sequence[ast.Comment]) -> None:
        self.lines: list[str] = []
        self.comments = sorted(comments, key=lambda c: (c.span.line, c.span.column))

    def leading(self, before_line: int, depth: int) -> None:
        while self.comments and self.comments[0].span.line < before_line:
            self.lines.append(_INDENT * depth + self.comments.pop(0).text)

    def trailing(self, line: int) -> str:
        if self.comments and self.comments[0].span.line == line:
            return "  " + self.comments.pop(0).text
        return ""

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text if text else "")

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")


def _children(w: _Writer, items: Sequence[object], depth: int, close_line: int) -> None:
    """Emit the items of a braced body, then any comment left inside it, then nothing more."""
    widths = [len(format_rule_value(i.value)) for i in items if isinstance(i, ast.Rule)]
    align = max((x for x in widths if x <= _ALIGN_MAX), default=0)
    prev_kind: type | None = None
    for n, item in enumerate(items):
        span = item.span  # type: ignore[attr-defined]
        nxt = items[n + 1].span.line if n + 1 < len(items) else None  # type: ignore[attr-defined]
        kind = type(item)
        if prev_kind is not None and (kind is ast.Block or prev_kind is ast.Block
                                      or kind is ast.ListFieldDecl):
            w.blank()
        w.leading(span.line, depth)
        _item(w, item, depth, align, claim_trailing=nxt != span.end_line)
        prev_kind = kind
    w.leading(close_line, depth)


def _item(w: _Writer, item: object, depth: int, align: int = 0, claim_trailing: bool = True) -> None:
    def tail() -> str:
        return w.trailing(item.span.end_line) if claim_trailing else ""  # type: ignore[attr-defined]

    match item:
        case ast.ProfileDecl():
            ext = ""
            if item.extends:
                ext = f" extends {format_literal(item.extends) if item.extends_is_path else item.extends}"
            title = f" {format_literal(item.title)}" if item.title is not None else ""
            w.emit(depth, f"profile {item.name}{ext}{title}" + tail())
        case ast.TargetDecl():
            rules = (" schematron " + ", ".join(format_literal(s) for s in item.schematron)
                     if item.schematron else "")
            w.emit(depth, f"target {format_literal(item.schema)} root {item.root}{rules}" + tail())
        case ast.HistoryDecl():
            w.emit(depth, f"history {item.mode}" + tail())
        case ast.ParamDecl():
            text = f"param {item.name}: {format_type(item.type)}"
            if item.default is not None:
                text += f" = {format_expr(item.default)}"
            if item.description is not None:
                text += f" {format_literal(item.description)}"
            w.emit(depth, text + tail())
        case ast.TableDecl():
            _table(w, item, depth, tail)
        case ast.SourceDecl():
            _shape(w, f"source {item.name}", item.shape, item.span, depth, tail)
        case ast.ListFieldDecl():
            _shape(w, f"{item.name}: list", item.shape, item.span, depth, tail)
        case ast.FieldDecl():
            w.emit(depth, f"{item.name}: {format_type(item.type)}" + tail())
        case ast.RefFieldDecl():
            w.emit(depth, f"{item.name}: ref {item.source} on {', '.join(item.on)}" + tail())
        case ast.LetDecl():
            w.emit(depth, f"let {item.name} = {format_expr(item.value)}" + tail())
        case ast.CheckDecl():
            per = f" per {', '.join(item.per)}" if item.per else ""
            w.emit(depth, f"check {format_expr(item.condition)}{per} else {item.severity} "
                          f"{format_literal(item.message)}" + tail())
        case ast.Rule():
            value = format_rule_value(item.value)
            pad = " " * max(0, align - len(value))
            override = " override" if item.override else ""
            w.emit(depth, f"{value}{pad} > {item.target}{override}" + tail())
        case ast.Block():
            head = ("document " if item.document else "") + item.path
            if item.for_:
                head += f" for {item.for_}"
            if item.group_by:
                head += f" by {', '.join(item.group_by)}"
            if item.where is not None:
                head += f" where {format_expr(item.where)}"
            if item.when is not None:
                head += f" when {format_expr(item.when)}"
            if item.file is not None:
                head += f" file {format_expr(item.file)}"
            w.emit(depth, head + " {" + _header_comment(w, item.span.line, item.items))
            _children(w, item.items, depth + 1, item.span.end_line)
            w.emit(depth, "}" + tail())
        case _:  # pragma: no cover
            raise TypeError(f"cannot format {item!r}")


def _header_comment(w: _Writer, line: int, children: Sequence[object]) -> str:
    """A comment on a ``{`` line belongs to the header, unless a child shares that line."""
    if children and children[0].span.line == line:  # type: ignore[attr-defined]
        return ""
    return w.trailing(line)


def _table(w: _Writer, t: ast.TableDecl, depth: int, tail: object) -> None:
    head = f"table {t.name}: {format_type(t.key_type)} -> {format_type(t.value_type)}"
    if t.description is not None:
        head += f" {format_literal(t.description)}"
    policy = ""
    if t.policy == "default" and t.default_value is not None:
        policy = f" default {format_literal(t.default_value.value)}"
    elif t.policy == "passthrough":
        policy = " passthrough"
    if t.file is not None:
        w.emit(depth, f"{head} from {format_literal(t.file)}{policy}" + tail())  # type: ignore[operator]
        return
    w.emit(depth, head + " {" + _header_comment(w, t.span.line, t.entries or ()))
    for entry in t.entries or ():
        w.leading(entry.span.line, depth + 1)
        w.emit(depth + 1, f"{format_literal(entry.key.value)} -> {format_literal(entry.value.value)}"
               + w.trailing(entry.span.end_line))
    w.leading(t.span.end_line, depth + 1)
    w.emit(depth, "}" + policy + tail())  # type: ignore[operator]


def _shape(w: _Writer, head: str, shape: ast.SourceShape, span: object, depth: int,
           tail: object) -> None:
    if shape.key:
        head += f" key {', '.join(shape.key)}"
    if shape.window:
        head += f" window {shape.window}"
    if shape.join_source:
        head += f" from {shape.join_source} on {', '.join(shape.join_on)}"
    w.emit(depth, head + " {" + _header_comment(w, span.line, shape.fields))  # type: ignore[attr-defined]
    _children(w, shape.fields, depth + 1, span.end_line)  # type: ignore[attr-defined]
    w.emit(depth, "}" + tail())  # type: ignore[operator]


_GROUP = {ast.ProfileDecl: 0, ast.TargetDecl: 0, ast.HistoryDecl: 0, ast.ParamDecl: 1,
          ast.TableDecl: 2, ast.LetDecl: 4, ast.CheckDecl: 5}


def _braced(item: object) -> bool:
    """Items laid out over several lines get a blank line around them."""
    return isinstance(item, ast.Block | ast.SourceDecl) or (
        isinstance(item, ast.TableDecl) and item.entries is not None)


def format_module(module: ast.Module) -> str:
    """The canonical text of a module."""
    w = _Writer(module.comments)
    prev: object | None = None
    for item in module.items:
        group = _GROUP.get(type(item), -1)
        if prev is not None and (group == -1 or group != _GROUP.get(type(prev), -1)
                                 or _braced(item) or _braced(prev)):
            w.blank()
        w.leading(item.span.line, 0)
        _item(w, item, 0)
        prev = item
    w.leading(10**9, 0)
    return "\n".join(w.lines).rstrip("\n") + "\n"
