"""Turn lark's syntax errors into messages an integrator understands.

lark's own message ("Unexpected token Token('NAME', 'Name') at line 3, column 16. Expected one
of: ...") never reaches a user alone. The common mistakes get their own code and wording: a
missing ``>``, an unclosed block, a misspelled keyword, a stray token, an unexpected end of file,
a tab, a bad string.
"""

from __future__ import annotations

import difflib
import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from exportc.diagnostics import Diagnostic, Related, Span, error

KEYWORDS = (
    "profile extends target root history full mutations none param table from default "
    "passthrough source key window on list ref let for by where when override check per else "
    "error warning if then and or not in true false null document file schematron"
).split()
_KEYWORD_TERMINALS = {kw.upper(): kw for kw in KEYWORDS}
_TYPE_NAMES = {"text", "int", "decimal", "bool", "date", "datetime", "list"}
TOP_LEVEL_KEYWORDS = ("profile", "target", "history", "param", "table", "source", "let", "check", "document")

_TERMINAL_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "a number",
    "DECIMAL": "a number",
    "DATE": "a date",
    "DATETIME": "a date-time",
    "TARGET_PATH": "a target path",
    "BLOCK_PATH": "a target path",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COLON": "`:`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "EQUAL": "`=`",
    "GT": "`>`",
    "ARROW": "`->`",
    "COMP_OP": "a comparison",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "OPTIONAL": "`?`",
    "HISTORY_MODE": "`full`, `mutations` or `none`",
    "SEVERITY": "`error` or `warning`",
    "OVERRIDE": "`override`",
    "_LET_END": "the end of the line",
    "$END": "the end of the file",
}


def _describe_terminal(name: str) -> str:
    if name in _KEYWORD_TERMINALS:
        return f"`{_KEYWORD_TERMINALS[name]}`"
    return _TERMINAL_NAMES.get(name, name.lower())


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_describe_terminal(t) for t in expected})
    if len(names) > 8:
        names = [*names[:8], "…"]
    return ", ".join(names)


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type in _KEYWORD_TERMINALS:
        return f"keyword `{tok}`"
    if tok.type == "NAME":
        return f"name `{tok}`"
    return f"`{tok}`"


def _closest(word: str, options: list[str] | tuple[str, ...]) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.7)
    return match[0] if match else None


def _strip_strings_and_comments(text: str) -> str:
    """Blank out strings and comments (keeping offsets) so braces can be counted."""
    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r'"([^"\\\n]|\\.)*"?|#[^\n]*', blank, text)


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _unclosed(text: str, opening: str, closing: str) -> int | None:
    stack: list[int] = []
    for i, ch in enumerate(_strip_strings_and_comments(text)):
        if ch == opening:
            stack.append(i)
        elif ch == closing and stack:
            stack.pop()
    return stack[-1] if stack else None


def _unclosed_brace(text: str) -> int | None:
    return _unclosed(text, "{", "}")


def lexical_diagnostics(text: str, file: str) -> list[Diagnostic]:
    """Problems found before parsing: tab characters outside strings and comments."""
    out: list[Diagnostic] = []
    clean = _strip_strings_and_comments(text)
    for lineno, line in enumerate(clean.splitlines(), 1):
        col = line.find("\t")
        if col >= 0:
            out.append(error("E0106", "tab character in a profile", Span.point(file, lineno, col + 1),
                             "indent with spaces; `exportc fmt` lays profiles out for you"))
    if len(out) > 10:
        out = [*out[:10], error("E0106", f"... and {len(out) - 10} more lines with tabs", None)]
    return out


def _previous_word(text: str, offset: int) -> tuple[str, int] | None:
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[:offset])
    return (m.group(1), m.start(1)) if m else None


def describe_syntax_error(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    """One diagnostic for lark's exception, with the plainest message we can give."""
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, text, file)
    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, text, file)
    if isinstance(exc, UnexpectedEOF):  # pragma: no cover - LALR reports EOF as a $END token
        return _end_of_file(set(exc.expected), text, file)
    line, col = getattr(exc, "line", 0), getattr(exc, "column", 0)  # pragma: no cover
    return error("E0101", "syntax error", Span.point(file, line, col))  # pragma: no cover


def _unexpected_character(exc: UnexpectedCharacters, text: str, file: str) -> Diagnostic:
    span = Span.point(file, exc.line, exc.column)
    ch = exc.char
    pos = exc.pos_in_stream or 0
    if ch == '"':
        end = text.find("\n", pos)
        width = (end if end >= 0 else len(text)) - pos
        return error("E0108", "this string is never closed", Span.point(file, exc.line, exc.column,
                     max(1, width)), 'close it with `"` on the same line; write \\" for a quote')
    if ch == "=" and text[pos + 1:pos + 2] == ">":
        return error("E0119", "a table entry is written `key -> value`", span, "write `->`")
    if ch == "=":
        return error("E0111", "`=` cannot be used here", span,
                     "compare with `==`; `=` only gives a param its default or a let its value")
    printable = ch if ch.isprintable() else f"U+{ord(ch):04X}"
    return error("E0112", f"unexpected character `{printable}`", span,
                 f"expected {_describe_expected(set(exc.allowed or ()))}" if exc.allowed else None)


def _end_of_file(expected: set[str], text: str, file: str) -> Diagnostic:
    brace = _unclosed_brace(text)
    if brace is not None:
        line, col = _offset_to_line_col(text, brace)
        eof_line, eof_col = _offset_to_line_col(text, len(text))
        return error("E0103", "this block is never closed", Span.point(file, line, col),
                     "add the missing `}`",
                     [Related(Span.point(file, eof_line, eof_col), "the file ends here")])
    line, col = _offset_to_line_col(text, len(text))
    return error("E0105", "the profile ends in the middle of a declaration",
                 Span.point(file, line, col), f"expected {_describe_expected(expected)}")


def _unexpected_token(exc: UnexpectedToken, text: str, file: str) -> Diagnostic:
    tok: Token = exc.token
    expected = set(exc.expected)
    if tok.type == "$END":
        return _end_of_file(expected, text, file)
    span = Span(file, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)
    offset = tok.start_pos or 0

    # A misspelled keyword: the token itself, where a keyword was expected...
    wanted = [_KEYWORD_TERMINALS[t] for t in expected if t in _KEYWORD_TERMINALS]
    if tok.type == "NAME" and wanted:
        guess = _closest(str(tok), wanted)
        if guess:
            return error("E0104", f"unknown word `{tok}`; did you mean `{guess}`?", span,
                         f"expected {_describe_expected(expected)}")
    # ... or the word before it, which the parser took for a name.
    prev = _previous_word(text, offset)
    if prev and prev[0] not in KEYWORDS and len(prev[0]) >= 4 and prev[0] not in _TYPE_NAMES:
        guess = _closest(prev[0], KEYWORDS)
        if guess:
            line, col = _offset_to_line_col(text, prev[1])
            return error("E0104", f"unknown keyword `{prev[0]}`; did you mean `{guess}`?",
                         Span.point(file, line, col, len(prev[0])))

    if tok.type == "RBRACE" and _unclosed_brace(text[:offset]) is None:
        return error("E0109", "this `}` closes no block", span, "remove it, or add the `{` it closes")
    if tok.type == "EQUAL" and text[offset + 1:offset + 2] == ">":
        return error("E0119", "a table entry is written `key -> value`", span, "write `->`")
    if "ARROW" in expected and tok.type in ("PLUS", "MINUS", "STAR", "SLASH", "GT", "LPAR"):
        return error("E0119", "a table entry is `key -> value` with a literal key and value",
                     span, "compute values in rules, not in tables")
    if tok.type == "GT" and "LBRACE" in expected:
        return error("E0120", "a rule must be inside a target block", span,
                     "put it in a block: `Accounts/Account for customers { ... }`")
    paren = _unclosed(text[:offset], "(", ")")
    if paren is not None and ("RPAR" in expected or str(tok).startswith("@") or tok.type == "RBRACE"):
        line, col = _offset_to_line_col(text, paren)
        return error("E0121", "this `(` is never closed", Span.point(file, line, col),
                     "add the missing `)`", [Related(span, "expected `)` before this")])
    if "LBRACE" in expected and prev is not None and tok.line and tok.line > \
            _offset_to_line_col(text, prev[1])[0]:
        return error("E0122", "missing `{` after the block header", span,
                     "a block reads `Path [for source] [where ...] { rules }`")
    if tok.type == "EQUAL" and "COMP_OP" in expected:
        return error("E0111", "`=` cannot be used to compare", span, "compare with `==`")
    if "_LET_END" in expected:
        return error("E0113", f"unexpected {_describe_token(tok)} after a `let`", span,
                     "a `let` ends at the end of its line; put what follows on a new line")
    if "GT" in expected and tok.type == "COMP_OP":
        return error("E0115", "a comparison in a rule's value must be in parentheses", span,
                     "`>` separates a rule's value from its target: write `(a > b) > Target`")
    if "GT" in expected and tok.type in ("NAME", "TARGET_PATH", "BLOCK_PATH", "STRING"):
        return error("E0102", "missing `>` between the value and the target path", span,
                     "a rule reads `expression > TargetPath`, e.g. `Bedrijfsnaam > Name`")
    if expected == {"COLON"} and prev is not None:
        return error("E0118", f"missing `:` after `{prev[0]}`", span,
                     f"write `{prev[0]}: {tok}`")
    if expected <= {"TARGET_PATH"}:
        return error("E0114", f"expected a target path after `>`, found {_describe_token(tok)}",
                     span, "a target path names an element or attribute: `Name`, "
                     "`Journal/@code`, `@ordernumber`")
    if tok.type == "NAME" and prev is None and str(tok) not in KEYWORDS:
        guess = _closest(str(tok), TOP_LEVEL_KEYWORDS)
        if guess:
            return error("E0104", f"unknown keyword `{tok}`; did you mean `{guess}`?", span)
    return error("E0101", f"unexpected {_describe_token(tok)}", span,
                 f"expected {_describe_expected(expected)}")
