"""Writing generated Python: lines, indentation, the ``w(...)`` calls that write XML, and the
line map back to the profile.

An integrator reads the generated module to learn what a profile does (``exportc compile --emit
python``), so it is laid out for reading: 4-space indentation, one XML line per source line
(adjacent string literals are joined by the Python compiler, so this costs nothing at run time),
and a ``# profile.map:113`` comment on each statement naming the rule it comes from.
"""

from __future__ import annotations

import io
import re
import tokenize

INDENT = "    "  # of the generated Python (the XML it writes is indented by two spaces)
Origin = tuple[str, int]  # (profile file, line); line 0: no profile line
_NO_ORIGIN: Origin = ("", 0)


class Code(str):
    """A piece of Python code (as opposed to literal XML text) in a concatenation."""


Parts = list[str | Code]


def concat(parts: Parts) -> str:
    """Python for the concatenation of literal text and code, adjacent literals merged."""
    merged: Parts = []
    for part in parts:
        if not isinstance(part, Code) and merged and not isinstance(merged[-1], Code):
            merged[-1] = merged[-1] + part
        else:
            merged.append(part)
    return " + ".join(p if isinstance(p, Code) else repr(p) for p in merged)


def _xml_lines(segments: list[tuple[Parts, Origin]]) -> list[tuple[Parts, Origin]]:
    """The written parts cut where the XML starts a new line; each line keeps the origin of the
    write that started it."""
    lines: list[tuple[Parts, Origin]] = []
    for parts, origin in segments:
        for part in parts:
            pieces = [part] if isinstance(part, Code) else [p for p in re.split(r"(?=\n)", part) if p]
            for piece in pieces:
                if not lines or (not isinstance(piece, Code) and piece.startswith("\n")):
                    lines.append(([], origin))
                lines[-1][0].append(piece)
    return lines


def bare(code: str) -> str:
    """``code`` without one pair of parentheses around all of it (``(a + b)`` -> ``a + b``),
    unless they make a tuple."""
    if not (code.startswith("(") and code.endswith(")")):
        return code
    depth = 0
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    for tok in tokens:
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
            if depth == 0 and tok.end[1] != len(code):
                return code  # the first parenthesis closes early: `(a) + (b)`
        elif tok.string == "," and depth == 1:
            return code
    return code[1:-1]


class CodeWriter:
    """Lines of Python with indentation and a line map back to the profile."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.linemap: list[Origin] = []
        self.depth = 0
        self.origin: Origin = _NO_ORIGIN
        self.pending: list[tuple[Parts, Origin]] = []

    def write(self, parts: Parts, origin: Origin | None = None) -> None:
        """XML to write, from the rule at ``origin``; consecutive writes become one ``w(...)``
        call with one source line per XML line."""
        self.pending.append((parts, origin or self.origin))

    def flush(self) -> None:
        if not self.pending:
            return
        segments, self.pending = self.pending, []
        lines = _xml_lines(segments)
        for i, (parts, origin) in enumerate(lines):
            code = concat(parts)
            if i == 0:
                code = "w(" + code
            else:
                joined = not isinstance(lines[i - 1][0][-1], Code) and not isinstance(parts[0], Code)
                code = "  " + (code if joined else "+ " + code)  # adjacent literals join by themselves
            self._append(code + (")" if i == len(lines) - 1 else ""), origin)

    def line(self, text: str = "", origin: Origin | None = None) -> None:
        self.flush()
        self._append(text, origin or self.origin)

    def _append(self, text: str, origin: Origin) -> None:
        self.lines.append(INDENT * self.depth + text if text else "")
        self.linemap.append(origin if text else _NO_ORIGIN)

    def insert(self, index: int, depth: int, text: str, origin: Origin) -> None:
        """A line at ``index`` (before a loop already written), indented ``depth`` levels."""
        self.lines.insert(index, INDENT * depth + text)
        self.linemap.insert(index, origin)

    def indent(self) -> None:
        self.flush()
        self.depth += 1

    def outdent(self) -> None:
        self.flush()
        self.depth -= 1

    def at(self, origin: Origin | None) -> None:
        if origin is not None:
            self.origin = origin


def with_comments(lines: list[str], linemap: list[Origin]) -> list[str]:
    """Each statement line followed by ``# file.map:line``, naming the rule it comes from
    (docstrings and blank lines stay as they are)."""
    out = []
    for text, (file, line) in zip(lines, linemap, strict=True):
        if line and text.strip() and not text.lstrip().startswith('"""'):
            text += f"  # {file.rsplit('/', 1)[-1]}:{line}"
        out.append(text)
    return out
