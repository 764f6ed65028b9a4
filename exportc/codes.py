"""The catalogue of diagnostic codes.

Codes are stable and never reused: a retired code stays here, marked retired. Every code has a
golden test (``tests/golden``), and ``docs/diagnostics.md`` is generated from this table
(``exportc codes --markdown``; a test keeps the page current).

Ranges: E00xx files and configuration, E01xx syntax, E02xx names and types, E03xx target
schema, E04xx profile structure and inheritance, E05xx parameters and sources, E06xx records at
run time.
"""

from __future__ import annotations

CODES: dict[str, tuple[str, str]] = {
    # -- files --
    "E0001": ("cannot read a file", "A profile, table or source file could not be opened."),
    "E0002": ("bad exportc.toml", "The project configuration is not valid TOML or has a wrong type."),
    # -- syntax --
    "E0101": ("unexpected token", "The parser found a word or symbol that cannot come here; the "
              "hint lists what could."),
    "E0102": ("missing `>` in a rule", "A rule is `expression > TargetPath`; the `>` is missing."),
    "E0103": ("unclosed block", "A `{` has no matching `}` before the end of the file."),
    "E0104": ("misspelled keyword", "A word is close to a keyword (`parm` for `param`)."),
    "E0105": ("unexpected end of file", "The file ends in the middle of a declaration."),
    "E0106": ("tab character", "Profiles are indented with spaces."),
    "E0107": ("not UTF-8", "The file contains a byte sequence that is not UTF-8."),
    "E0108": ("unterminated string", "A string has no closing quote on its line."),
    "E0109": ("unmatched `}`", "A `}` closes no open block."),
    "E0110": ("invalid date", "A date or date-time literal names a day that does not exist."),
    "E0111": ("`=` used to compare", "Comparison is `==`; `=` gives params and lets their value."),
    "E0112": ("unexpected character", "A character that is not part of the language."),
    "E0113": ("text after a `let`", "A `let` ends at the end of its line."),
    "E0114": ("missing target path", "After `>` comes the target element or attribute path."),
    "E0115": ("comparison in a rule value", "`>` separates value and target; parenthesise a "
              "comparison you want to emit."),
    "E0116": ("duplicate clause", "A block or source gives `for`, `where`, `when`, `key` or "
              "`window` twice."),
    "E0117": ("unknown escape", "Strings know the escapes \\\" \\\\ \\n \\t \\r."),
    "E0118": ("missing `:`", "A field, param or table needs `:` between its name and its type."),
    "E0119": ("bad table entry", "Inline table entries are `literal -> literal`."),
    "E0120": ("rule outside a block", "Rules are written inside a target block."),
    "E0121": ("unclosed `(`", "A `(` has no matching `)`."),
    "E0122": ("missing `{`", "A block header must be followed by `{`."),
}


def markdown() -> str:
    """The diagnostics reference page."""
    lines = ["# Diagnostic codes", "",
             "Generated from `exportc/codes.py` by `exportc codes --markdown`. Codes are stable "
             "and never reused.", "", "| code | what | explanation |", "|---|---|---|"]
    for code, (title, text) in CODES.items():
        escaped = text.replace("|", "\\|")
        lines.append(f"| {code} | {title} | {escaped} |")
    return "\n".join(lines) + "\n"
