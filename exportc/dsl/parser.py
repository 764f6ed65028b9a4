"""Parse profile text into the AST of ``exportc.dsl.ast``.

The lark grammar lives in ``grammar.lark``, its parser in ``exportc.dsl.lalr``. The transformer
below turns lark's tree into our own nodes with our own ``Span`` (no lark ``Token`` or ``Meta``
escapes this module), and collects problems such as an impossible date as diagnostics instead of
raising inside lark (which would arrive wrapped in ``VisitError``). Syntax errors are rewritten
into plain messages by ``exportc.dsl.syntax_errors``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedInput

from exportc.diagnostics import Diagnostic, Span, error
from exportc.dsl import ast, lalr
from exportc.dsl.depth import MAX_DEPTH, deep_stack, too_deep
from exportc.dsl.message import Piece, split_message
from exportc.dsl.syntax_errors import describe_syntax_error, lexical_diagnostics


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A module (``None`` when the text could not be parsed) and the diagnostics found."""

    module: ast.Module | None
    diagnostics: list[Diagnostic]
    source: str

    @property
    def ok(self) -> bool:
        return self.module is not None and not any(d.is_error for d in self.diagnostics)


def _tok_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line or 0, tok.column or 0, tok.end_line or tok.line or 0,
                tok.end_column or tok.column or 0)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def _unescape(body: str) -> str:
    """Undo escapes quietly (the whole string's escapes are reported by ``_Builder._string``)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


@dataclass(frozen=True, slots=True)
class _Dotted:
    text: str
    span: Span


@v_args(meta=True)
class _Builder(Transformer[Token, ast.Module]):
    """Builds AST nodes from lark's parse tree, collecting diagnostics as it goes."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    # -- helpers --
    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 0, 0, 0, 0)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _string(self, tok: Token) -> str:
        body, out, i = tok.value[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    col = (tok.column or 0) + 1 + i
                    self.diagnostics.append(error(
                        "E0117", f"unknown escape `\\{nxt}` in a string",
                        Span.point(self.file, tok.line or 0, col, 2),
                        'the escapes are \\" \\\\ \\n \\t \\r'))
                    out.append(nxt)
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def _clauses(self, parts: list[Any], allowed: set[str], what: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for part in parts:
            if isinstance(part, tuple) and len(part) == 3 and part[0] in allowed:
                kind, value, span = part
                if kind in found:
                    self.diagnostics.append(error(
                        "E0116", f"`{kind}` is given twice for this {what}", span,
                        f"a {what} takes at most one `{kind}` clause"))
                found[kind] = value
        return found

    # -- module and header --
    def start(self, meta: Any, items: list[Any]) -> ast.Module:
        return ast.Module(tuple(items), span=self._span(meta))

    def dotted_name(self, meta: Any, names: list[Token]) -> _Dotted:
        return _Dotted(".".join(str(n) for n in names), self._span(meta))

    def name_list(self, meta: Any, names: list[Token]) -> tuple[str, ...]:
        return tuple(str(n) for n in names)

    def profile_decl(self, meta: Any, c: list[Any]) -> ast.ProfileDecl:
        name, ext, title = c
        ext_text, ext_path = (ext if ext else (None, False))
        return ast.ProfileDecl(name.text, self._string(title) if title else None, ext_text,
                               ext_path, span=self._span(meta))

    def extends_clause(self, meta: Any, c: list[Any]) -> tuple[str, bool]:
        (base,) = c
        if isinstance(base, Token):
            return self._string(base), True
        return base.text, False

    def target_decl(self, meta: Any, c: list[Any]) -> ast.TargetDecl:
        return ast.TargetDecl(self._string(c[0]), str(c[1]), c[2] or (), span=self._span(meta))

    def schematron_clause(self, meta: Any, c: list[Token]) -> tuple[str, ...]:
        return tuple(self._string(s) for s in c)

    def history_decl(self, meta: Any, c: list[Token]) -> ast.HistoryDecl:
        return ast.HistoryDecl(str(c[0]), span=self._span(meta))

    # -- params, types, tables --
    def param_decl(self, meta: Any, c: list[Any]) -> ast.ParamDecl:
        name, typ, default, desc = c
        return ast.ParamDecl(str(name), typ, default, self._string(desc) if desc else None,
                             span=self._span(meta))

    def param_default(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def simple_type(self, meta: Any, c: list[Any]) -> ast.TypeRef:
        return ast.TypeRef(str(c[0]), (), c[1] is not None, span=self._span(meta))

    def list_type(self, meta: Any, c: list[Any]) -> ast.TypeRef:
        return ast.TypeRef("list", (c[0],), c[1] is not None, span=self._span(meta))

    def table_decl(self, meta: Any, c: list[Any]) -> ast.TableDecl:
        name, ktype, _arrow, vtype, desc, body, policy = c
        kind, payload = body
        pol, default = policy if policy else ("fail", None)
        return ast.TableDecl(
            str(name), ktype, vtype, self._string(desc) if desc else None,
            payload if kind == "inline" else None, payload if kind == "file" else None,
            pol, default, span=self._span(meta))

    def inline_table(self, meta: Any, c: list[ast.TableEntry]) -> tuple[str, Any]:
        return "inline", tuple(c)

    def file_table(self, meta: Any, c: list[Token]) -> tuple[str, Any]:
        return "file", self._string(c[0])

    def table_entry(self, meta: Any, c: list[Any]) -> ast.TableEntry:
        return ast.TableEntry(c[0], c[2], span=self._span(meta))

    def table_default(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return "default", c[0]

    def table_passthrough(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return "passthrough", None

    # -- sources --
    def key_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "key", c[0], self._span(meta)

    def window_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "window", str(c[0]), self._span(meta)

    def join_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "from", (str(c[0]), c[1]), self._span(meta)

    def _shape(self, parts: list[Any], what: str) -> ast.SourceShape:
        cl = self._clauses(parts, {"key", "window", "from"}, what)
        fields = tuple(p for p in parts if not isinstance(p, tuple))
        join = cl.get("from")
        return ast.SourceShape(cl.get("key", ()), cl.get("window"), join[0] if join else None,
                               join[1] if join else (), fields)

    def source_decl(self, meta: Any, c: list[Any]) -> ast.SourceDecl:
        return ast.SourceDecl(str(c[0]), self._shape(c[1:], "source"), span=self._span(meta))

    def value_field(self, meta: Any, c: list[Any]) -> ast.FieldDecl:
        return ast.FieldDecl(str(c[0]), c[1], span=self._span(meta))

    def list_field(self, meta: Any, c: list[Any]) -> ast.ListFieldDecl:
        return ast.ListFieldDecl(str(c[0]), self._shape(c[1:], "list"), span=self._span(meta))

    def ref_field(self, meta: Any, c: list[Any]) -> ast.RefFieldDecl:
        return ast.RefFieldDecl(str(c[0]), str(c[1]), c[2], span=self._span(meta))

    def let_decl(self, meta: Any, c: list[Any]) -> ast.LetDecl:
        return ast.LetDecl(str(c[0]), c[1], span=self._span(meta))

    # -- blocks, rules, checks --
    def block(self, meta: Any, c: list[Any]) -> ast.Block:
        document = c[0] is not None
        path, path_span = c[1]
        cl = self._clauses(c[2:], {"for", "where", "when", "file"}, "block")
        items = tuple(p for p in c[2:] if not isinstance(p, tuple))
        for_, group = cl.get("for", (None, ()))
        return ast.Block(path, for_, cl.get("where"), cl.get("when"), items, group, document,
                         cl.get("file"), path_span=path_span, span=self._span(meta))

    def block_path(self, meta: Any, c: list[Token]) -> tuple[str, Span]:
        return str(c[0]), _tok_span(self.file, c[0])

    def for_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "for", (c[0].text, c[1] or ()), self._span(meta)

    def group_by(self, meta: Any, c: list[Any]) -> tuple[str, ...]:
        return tuple(c[0])

    def where_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "where", c[0], self._span(meta)

    def when_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "when", c[0], self._span(meta)

    def file_clause(self, meta: Any, c: list[Any]) -> tuple[str, Any, Span]:
        return "file", c[0], self._span(meta)

    def rule(self, meta: Any, c: list[Any]) -> ast.Rule:
        value, _gt, target, override = c
        return ast.Rule(value, str(target), override is not None,
                        target_span=_tok_span(self.file, target), span=self._span(meta))

    def check_decl(self, meta: Any, c: list[Any]) -> ast.CheckDecl:
        cond, per, severity, message = c
        return ast.CheckDecl(cond, per or (), str(severity), self._string(message),
                             self._message_parts(message), span=self._span(meta))

    def _message_parts(self, tok: Token) -> tuple[str | ast.Expr, ...]:
        """A message's text pieces and ``{expression}`` placeholders, each parsed where it
        stands in the line (so a diagnostic about a placeholder points into the string)."""
        line = tok.line or 0
        pieces, diags = split_message(tok.value[1:-1], self.file, line, (tok.column or 0) + 1)
        self.diagnostics += diags
        parts: list[str | ast.Expr] = []
        for piece in pieces:
            if not piece.placeholder:
                parts.append(_unescape(piece.raw))
                continue
            expr = self._placeholder(piece, line)
            if expr is not None:
                parts.append(expr)
        return tuple(parts)

    def _placeholder(self, piece: Piece, line: int) -> ast.Expr | None:
        span = Span.point(self.file, line, piece.column - 1, len(piece.raw) + 2)
        if not piece.raw.strip():
            self.diagnostics.append(error("E0126", "this placeholder is empty", span,
                                          "put a value between the braces, or write `{{` for a "
                                          "literal brace"))
            return None
        # Padding puts the expression at its own line and column, so its spans are the file's.
        # A nested string's `\"` becomes `"` (columns after it shift by one; rare enough).
        padded = "\n" * (line - 1) + " " * (piece.column - 1) + _unescape(piece.raw)
        try:
            tree = lalr.parser().parse(padded, start="expr")
        except UnexpectedInput as exc:
            why = describe_syntax_error(exc, padded, self.file)
            reason = "it ends too early" if why.code == "E0105" else why.message
            self.diagnostics.append(error("E0126", f"`{{{piece.raw}}}` is not an expression: "
                                          f"{reason}", span,
                                          "a placeholder holds one expression, e.g. "
                                          "`{klant.cust_id}`; write `{{` for a literal brace"))
            return None
        sub = _Builder(self.file)
        expr: ast.Expr = sub.transform(tree)  # type: ignore[assignment]  # an `expr` start rule
        self.diagnostics += sub.diagnostics
        return expr

    def per_clause(self, meta: Any, c: list[Any]) -> tuple[str, ...]:
        return tuple(c[0])

    # -- expressions --
    def if_expr(self, meta: Any, c: list[Any]) -> ast.If:
        return ast.If(c[0], c[1], c[2], span=self._span(meta))

    def or_op(self, meta: Any, c: list[Any]) -> ast.BoolOp:
        return ast.BoolOp("or", c[0], c[1], span=self._span(meta))

    def and_op(self, meta: Any, c: list[Any]) -> ast.BoolOp:
        return ast.BoolOp("and", c[0], c[1], span=self._span(meta))

    def not_op(self, meta: Any, c: list[Any]) -> ast.Not:
        return ast.Not(c[0], span=self._span(meta))

    def compare(self, meta: Any, c: list[Any]) -> ast.Compare:
        return ast.Compare(str(c[1]), c[0], c[2], span=self._span(meta))

    def in_op(self, meta: Any, c: list[Any]) -> ast.In:
        return ast.In(c[0], c[1], False, span=self._span(meta))

    def not_in_op(self, meta: Any, c: list[Any]) -> ast.In:
        return ast.In(c[0], c[1], True, span=self._span(meta))

    def binop(self, meta: Any, c: list[Any]) -> ast.BinOp:
        return ast.BinOp(str(c[1]), c[0], c[2], span=self._span(meta))

    def neg(self, meta: Any, c: list[Any]) -> ast.Neg | ast.Literal:
        operand = c[1]
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, Decimal):
            return ast.Literal(-operand.value, span=self._span(meta))  # type: ignore[operator]
        return ast.Neg(operand, span=self._span(meta))

    def attr(self, meta: Any, c: list[Any]) -> ast.Attr:
        return ast.Attr(c[0], str(c[1]), span=self._span(meta))

    def index(self, meta: Any, c: list[Any]) -> ast.Index:
        return ast.Index(c[0], c[1], span=self._span(meta))

    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        return ast.Call(str(c[0]), c[1] or (), span=self._span(meta))

    def args(self, meta: Any, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)

    def name(self, meta: Any, c: list[Token]) -> ast.Name:
        return ast.Name(str(c[0]), span=self._span(meta))

    def list_literal(self, meta: Any, c: list[Any]) -> ast.ListLiteral:
        return ast.ListLiteral(c[0] or (), span=self._span(meta))

    # -- literals --
    def string(self, meta: Any, c: list[Token]) -> ast.Literal:
        return ast.Literal(self._string(c[0]), span=self._span(meta))

    def _temporal(self, meta: Any, tok: Token, kind: type[dt.date]) -> ast.Literal:
        try:
            value = kind.fromisoformat(str(tok))
        except ValueError:
            self.diagnostics.append(error(
                "E0110", f"`{tok}` is not a valid {kind.__name__}", self._span(meta),
                "dates are written YYYY-MM-DD, date-times YYYY-MM-DDTHH:MM[:SS]"))
            value = dt.date(1, 1, 1)
        return ast.Literal(value, span=self._span(meta))

    def date(self, meta: Any, c: list[Token]) -> ast.Literal:
        return self._temporal(meta, c[0], dt.date)

    def datetime(self, meta: Any, c: list[Token]) -> ast.Literal:
        return self._temporal(meta, c[0], dt.datetime)

    def decimal(self, meta: Any, c: list[Token]) -> ast.Literal:
        return ast.Literal(Decimal(str(c[0])), span=self._span(meta))

    def int(self, meta: Any, c: list[Token]) -> ast.Literal:
        return ast.Literal(int(str(c[0])), span=self._span(meta))

    def true(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(True, span=self._span(meta))

    def false(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(False, span=self._span(meta))

    def null(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal(None, span=self._span(meta))

    def negative_number(self, meta: Any, c: list[Token]) -> ast.Literal:
        text = str(c[1])
        value: int | Decimal = Decimal(text) if "." in text else int(text)
        return ast.Literal(-value, span=self._span(meta))


def parse_text(text: str, file: str = "<profile>") -> ParseResult:
    """Parse profile text. Never raises for bad input: problems come back as diagnostics."""
    lexical = lexical_diagnostics(text, file)
    if lexical:
        return ParseResult(None, lexical, text)
    try:
        tree = lalr.parser().parse(text, start="start")
    except UnexpectedInput as exc:
        return ParseResult(None, _syntax_errors(exc, text, file), text)
    builder = _Builder(file)
    try:
        with deep_stack():
            module = builder.transform(tree)
    except RecursionError:  # far beyond MAX_DEPTH: lark's transformer recurses per level
        return ParseResult(None, [error("E0123", f"an expression nests far more than {MAX_DEPTH} "
                                        "levels deep", Span.point(file, 1, 1),
                                        "split long expressions into steps with `let`")], text)
    module = ast.Module(module.items, tuple(_comments(text, file)), module.span)
    deep = too_deep(module)
    if deep:
        return ParseResult(None, builder.diagnostics + deep, text)
    return ParseResult(module, builder.diagnostics, text)


# Where parsing may resume after a syntax error: a line starting in column 1 with a word (a
# top-level declaration or block, as `exportc fmt` lays them out). What lies between is skipped.
_RESUME = re.compile(r"[A-Za-z_]")
MAX_SYNTAX_ERRORS = 10


def _syntax_errors(first: UnexpectedInput, text: str, file: str) -> list[Diagnostic]:
    """The first syntax error, then more: resume at the next top-level item and parse on."""
    found = [describe_syntax_error(first, text, file)]
    lines = text.split("\n")
    line = getattr(first, "line", 0) or 0
    while len(found) < MAX_SYNTAX_ERRORS and found[-1].code not in ("E0103", "E0105"):
        resume = next((n for n in range(max(line, 1), len(lines)) if _RESUME.match(lines[n])), None)
        if resume is None:
            break
        rest = "\n" * resume + "\n".join(lines[resume:])  # same line numbers as the file
        try:
            lalr.parser().parse(rest, start="start")
            break
        except UnexpectedInput as exc:
            diag = describe_syntax_error(exc, rest, file)
            if diag in found:
                break
            found.append(diag)
            line = max((getattr(exc, "line", 0) or 0), resume + 1)
    if len(found) == MAX_SYNTAX_ERRORS:
        found.append(error("E0101", f"stopped after {MAX_SYNTAX_ERRORS} syntax errors", None))
    return found


def comment_start(line: str) -> int | None:
    """The index of the ``#`` that starts a comment on this line (not one inside a string)."""
    in_str, i = False, 0
    while i < len(line):
        ch = line[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#":
            return i
        i += 1
    return None


def _comments(text: str, file: str) -> list[ast.Comment]:
    """Find ``#`` comments outside strings, for the formatter."""
    out: list[ast.Comment] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        i = comment_start(line)
        if i is not None:
            out.append(ast.Comment(line[i:].rstrip(), Span(file, lineno, i + 1, lineno, len(line) + 1)))
    return out


def parse_bytes(data: bytes, file: str) -> ParseResult:
    """Decode UTF-8 (reporting the exact place of a bad byte) and parse."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        shown = data.decode("utf-8", "replace")
        return ParseResult(None, [error(
            "E0107", f"the file is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded",
            Span.point(file, line, col), "save the profile as UTF-8")], shown)
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_text(text, file)


def parse_file(path: str) -> ParseResult:
    """Read and parse a ``.map`` file; an unreadable file is a diagnostic too."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return ParseResult(None, [error("E0001", f"cannot read {path}: {exc.strerror}", None)], "")
    known = _parsed(data, path)
    return ParseResult(known.module, list(known.diagnostics), known.source)


@lru_cache(maxsize=16)
def _parsed(data: bytes, path: str) -> ParseResult:
    """A file's parse, kept for the same bytes: `exportc check` of a folder compiles a base
    profile once for itself and again under every profile that extends it (the AST is
    frozen; each caller gets its own list of diagnostics)."""
    return parse_bytes(data, path)
