"""Split a check's message into text and ``{expression}`` placeholders.

``check Peppol_ID != null else error "customer {cust_id} ({Bedrijfsnaam}) has no Peppol_ID"``
names the record in the report. A placeholder is any expression; ``{{`` and ``}}`` are literal
braces. This module only finds the pieces (on the string as written, so every piece keeps its
column); ``exportc.dsl.parser`` parses each placeholder as an expression at that column.
"""

from __future__ import annotations

from dataclasses import dataclass

from exportc.diagnostics import Diagnostic, Span, error


@dataclass(frozen=True, slots=True)
class Piece:
    """Raw text (escapes not yet undone) or, with ``placeholder``, an expression's source text;
    ``column`` is where ``raw`` starts in the profile line."""

    raw: str
    column: int
    placeholder: bool


def split_message(raw: str, file: str, line: int, column: int) -> tuple[list[Piece], list[Diagnostic]]:
    """The pieces of a string literal's body ``raw`` (without its quotes) starting at ``column``.

    Braces are found on the text as written: escapes never produce a brace, so a ``\\"`` inside
    a placeholder (a nested string) leaves every column where the user sees it.
    """
    pieces: list[Piece] = []
    diags: list[Diagnostic] = []
    text: list[str] = []
    text_col = column
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            text.append(raw[i:i + 2])
            i += 2
        elif ch in "{}" and raw[i + 1:i + 2] == ch:
            text.append(ch)  # `{{` and `}}` are one literal brace
            i += 2
        elif ch == "}":
            diags.append(error("E0125", "a `}` in a message closes no placeholder",
                               Span.point(file, line, column + i), "write `}}` for a literal brace"))
            i += 1
        elif ch == "{":
            end = raw.find("}", i + 1)
            if end < 0:
                diags.append(error("E0124", "this `{` in a message is never closed",
                                   Span.point(file, line, column + i),
                                   "close the placeholder with `}`, or write `{{` for a literal brace"))
                break
            if text:
                pieces.append(Piece("".join(text), text_col, False))
            pieces.append(Piece(raw[i + 1:end], column + i + 1, True))
            text, i = [], end + 1
            text_col = column + i
        else:
            text.append(ch)
            i += 1
    if text:
        pieces.append(Piece("".join(text), text_col, False))
    return pieces, diags
