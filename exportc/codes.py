"""The catalogue of diagnostic codes.

Codes are stable and never reused: a retired code stays here, marked retired. Every code has a
golden test (``tests/golden``), and ``docs/diagnostics.md`` is generated from this table
(``exportc codes --markdown``; a test keeps the page current).

Ranges: E00xx files and configuration, E01xx syntax, E02xx names and types, E03xx target
schema, E04xx profile structure and inheritance, E05xx parameters and sources, E06xx records at
run time, E07xx profile test files.
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
    "E0123": ("expression too deep", "An expression nests more than 128 levels; split it with `let`."),
    "E0124": ("unclosed placeholder", "A `{` in a check message has no `}`; write `{{` for a literal brace."),
    "E0125": ("stray `}` in a message", "A `}` in a check message closes no placeholder; write `}}`."),
    "E0126": ("bad placeholder", "A `{...}` in a check message is empty or not an expression."),
    # -- names and types --
    "E0201": ("unknown name", "A name is not a field of the records in scope, a let, a param or a run field."),
    "E0202": ("unknown function", "The function is not in the library (see docs/language.md)."),
    "E0203": ("wrong number of arguments", "A function was called with too few or too many arguments."),
    "E0204": ("wrong argument type", "A function argument or table key has a type the function does not take."),
    "E0205": ("type mismatch", "An operator, `in`, `if` or a list mixes types that do not fit together."),
    "E0206": ("ambiguous name", "A bare name is a field at two record levels; qualify it."),
    "E0207": ("not a table", "Only tables can be looked up with `name[key]`; tables are not values."),
    "E0208": ("unknown source or list", "A `for` names no source, list field or relation."),
    "E0209": ("nullable in a comparison", "`<`, `<=`, `>`, `>=` need values that cannot be null."),
    "E0210": ("unknown field", "A qualified name `x.field` names a field `x` does not have."),
    "E0211": ("condition is not a bool", "`when`, `where`, `check`, `if`, `and`, `or`, `not` need true/false."),
    "E0212": ("unknown type", "Types are text, int, decimal, bool, date, datetime and list[T]."),
    "E0213": ("let cycle", "A `let` refers to itself, directly or through other lets."),
    "E0214": ("declared twice", "A param, table, source, let or field is declared twice."),
    "E0215": ("bad table", "An inline table repeats a key, or its policy does not fit its types."),
    "E0216": ("bad table file", "A table's CSV file is missing or has a bad row."),
    "E0217": ("bad param default", "A param default must be a constant of the param's type."),
    "E0218": ("`change`/`previous` outside a record", "They are only known in a block that runs `for` a source."),
    "E0219": ("list used as a value", "`list.field` is a list; aggregate it with sum() or count()."),
    "E0220": ("misplaced set-level check", "no_overlap()/unique() check the records of a top-level `for` block."),
    "E0221": ("unknown run field", "`run` has from, to, booking_date, description, mode, started, profile."),
    "E0222": ("bad key", "A source's key or join names a field it does not declare, or a nullable one."),
    "E0223": ("bad window", "A source's window must be one of its date fields."),
    "E0224": ("`where` without `for`", "`where` selects records; a block without `for` uses `when`."),
    "E0225": ("values in a set-level check's message", "no_overlap()/unique() compare records "
              "with each other; their message cannot name one record's `{values}`."),
    # -- target schema --
    "E0301": ("unknown element", "The target path names an element the XSD does not allow there."),
    "E0302": ("unknown attribute", "The target path names an attribute the XSD does not declare there."),
    "E0303": ("`for` on a single element", "The element occurs at most once, so it cannot repeat per record."),
    "E0304": ("target filled twice", "A single element, attribute or text is written by two rules or blocks."),
    "E0305": ("required target empty", "A required child element or attribute has no rule."),
    "E0306": ("nullable into required", "A value that may be null fills a required element or attribute."),
    "E0307": ("type cannot fill target", "The value's type cannot be written as the XSD type."),
    "E0308": ("literal breaks a facet", "A constant violates an XSD facet (enumeration, length, pattern, range)."),
    "E0309": ("choice filled twice", "Two alternatives of an xs:choice are both written."),
    "E0310": ("value into complex element", "The element has child elements; target one of them or an attribute."),
    "E0311": ("required element is conditional", "A required element cannot depend on `when`."),
    "E0312": ("unknown root", "The `root` is not a global element of the schema."),
    "E0313": ("schema not found", "The target XSD is not beside the profile or in a schema folder of exportc.toml."),
    "E0314": ("unreadable schema", "The target XSD could not be read."),
    "E0315": ("written more often than allowed", "Unconditional sibling blocks write an element beyond its maxOccurs."),
    "E0330": ("unknown namespace prefix", "A path's prefix (`cac:`) is not a namespace the schema declares."),
    "E0331": ("ambiguous element name", "Two children share the local name; write the namespace prefix."),
    "E0332": ("document without a file name", "A `document` block needs `file expression` naming each record's file."),
    "E0333": ("document without `for`", "A `document` block writes one document per record of a source."),
    "E0334": ("unknown document kind", "A `document` block names a root that no `target` declares."),
    "E0335": ("two kinds for one record", "Two document blocks take every record of one source; `where` must choose."),
    "E0336": ("block outside a document", "A profile with `document` blocks writes only document blocks at the top."),
    "E0337": ("bad targets", "Several targets need `document` blocks, and each target its own root."),
    "E0339": ("schematron not found", "A `schematron` stylesheet is not beside the profile or in a schema folder."),
    # -- profile structure and inheritance --
    "E0401": ("no target", "A profile needs `target \"file.xsd\" root Element`."),
    "E0402": ("override of a missing rule", "The base profile has no rule for the overridden target."),
    "E0403": ("override of an unmarked rule", "Only rules marked `override` in the base may be replaced."),
    "E0404": ("not allowed in a customer profile", "A customer profile overrides rules and adds fields "
              "to a base source; no new sources, keys or windows."),
    "E0405": ("type changed by an override", "A param or table keeps the base's types."),
    "E0406": ("no profile declaration", "A profile starts with `profile name`."),
    "E0407": ("base profile not found", "`extends` names a file or profile that cannot be found."),
    "E0408": ("circular extends", "A profile extends itself through its bases."),
    "E0409": ("no target blocks", "A profile must write something."),
    "E0410": ("base field retyped", "A customer profile redeclared a field of a base source with "
              "another type; add a field with a new name instead."),
    # -- params and sources (run time) --
    "E0501": ("unreadable source", "A source file or database cannot be read (missing, not UTF-8, bad CSV/JSON)."),
    "E0502": ("bad source value", "A value cannot be read as its declared type."),
    "E0503": ("missing source value", "A non-nullable field is missing or empty."),
    "E0504": ("unbound source", "A source the profile reads was not given with --source."),
    "E0505": ("bad table file at run time", "A table's CSV cannot be read when the run starts."),
    # -- records (run time) --
    "E0601": ("character XML cannot carry", "Text contains a control character XML 1.0 does not allow."),
    "E0602": ("value breaks a facet", "A value violates an XSD facet of its target."),
    "E0603": ("too few repeated elements", "A record got fewer InvoiceLines (or the like) than minOccurs."),
    "E0604": ("check failed", "A `check ... else error` did not hold for a record."),
    "E0605": ("table key not found", "A table without a default or passthrough has no entry for the key."),
    "E0606": ("division by zero", "An expression divided by zero."),
    "E0607": ("bad conversion", "format(), decimal() or int() could not convert a value."),
    "E0608": ("set-level check failed", "no_overlap() or unique() found clashing records."),
    "E0609": ("duplicate key", "Two records of a source have the same key."),
    "E0610": ("output invalid", "The written document does not validate against the XSD."),
    "E0611": ("too many repeated elements", "A record got more of a repeated element than its maxOccurs."),
    "E0620": ("run died", "A run was killed or crashed; the next run marked it failed."),
    "E0621": ("run stopped", "A run stopped on an error outside the records (lock, database, I/O)."),
    "E0622": ("scheduled profile broken", "A scheduled run's profile no longer compiles."),
    "E0630": ("too many deletions", "A production run would deliver more deletions than the profile's "
              "guard (`max_deletions` in exportc.toml) allows, so it stopped and delivered nothing; "
              "check the source, or allow them with --allow-deletions N."),
    "E0640": ("amount with too many decimals", "fixed(x, places) got a value with more decimals than "
              "the target takes; it is never rounded silently."),
    "E0650": ("bad document file name", "A document's file name is not a plain name, or two documents share one."),
    "E0651": ("business rule failed", "A document fails a `fatal` Schematron assert (EN 16931, Peppol)."),
    "E0699": ("internal error", "A bug in exportc; please report it with the profile and record."),
    # -- profile tests (exportc test) --
    "E0701": ("bad test file", "A profile test file (`*.test.toml`) is not valid TOML or a value "
              "has the wrong shape."),
    "E0702": ("unknown key in a test file", "A test file, case, `run` or `expect` table has a key "
              "exportc does not know."),
    "E0703": ("test file without its profile", "The profile a test file names (or the `.map` "
              "beside it with the same stem) does not exist."),
    "E0704": ("case expects nothing", "A case gives no golden file, XPath assertion or expected "
              "problems, so it could never fail."),
    "W0501": ("rows without a parent", "Joined rows (invoice lines) whose parent record is not in the source."),
    "W0601": ("check warning", "A `check ... else warning` did not hold for a record."),
    "W0608": ("set-level check warning", "no_overlap() or unique() found clashing records (warning)."),
    "W0630": ("many deletions", "A test run found more deletions than the profile's guard allows; a "
              "production run would stop (E0630)."),
    "W0634": ("copy to --out failed", "The run finished and kept its files in the run store, but "
              "copying them to the --out folder failed; `exportc files RUN --copy-to DIR` copies them."),
    "W0635": ("window selects nothing", "The run's --from/--to selects none of a source's records."),
    "W0636": ("selection selects nothing", "No block selects any of a source's records (a `debtors` "
              "param or a `where` that matches none)."),
    "W0651": ("business rule warning", "A document fails a Schematron assert flagged `warning`."),
    "N0620": ("run recovered", "The run first cleaned up after a run that died: its temporary files "
              "removed, or its recorded files moved into place."),
    "N0623": ("lines read in full", "A line had the tag of a line the history knows, and other bytes "
              "(a chance of ~1 in 10^10 a changed line): the run started over and read every line in "
              "full; it delivers what it always would."),
}


def markdown() -> str:
    """The diagnostics reference page."""
    lines = ["# Diagnostic codes", "",
             "Generated from `exportc/codes.py` by `exportc codes --markdown`. Codes are stable "
             "and never reused.", "", "| code | what | explanation |", "|---|---|---|"]
    for code, (title, text) in CODES.items():
        escaped = text.replace("|", "\\|")
        lines.append(f"| {code} | {title} | {escaped} |")
    return "\n".join([*lines, "", JSON_FORM]) + "\n"


JSON_FORM = """## The JSON form

`exportc check --format json` writes `{"diagnostics": [...]}`; a run's `report.json` (and
`exportc show RUN --format json`, the console's `/runs/N.json`) holds the run's diagnostics
under `problems`, and the same grouped (like problems of many records as one) under `groups`.
Both use one schema for a diagnostic:

| key | value |
|---|---|
| `severity` | `error`, `warning` or `note` |
| `code` | the code above |
| `message` | what is wrong |
| `span` | where the cause is (see below), or null |
| `hint` | how to fix it, or null |
| `related` | other locations that explain it: `[{"span", "message"}]` (a record's source row) |
| `block` | run only: the block, or `source NAME`, the problem was met in (null otherwise) |
| `record` | run only: the key of the record it belongs to, as `field=value` |
| `document` | run only: the output document it is in (XSD and Schematron errors) |
| `line_text` | run only: the span's line as it read during the run, so a report quotes it after the file changed |
| `count` | how many records a group stands for (1 for a single problem) |
| `records` | a group's first record keys |

A span is `{"file", "line", "column", "end_line", "end_column"}` (1-based, `end_column`
exclusive). For a profile problem, and a run's failed rule or check, it is the `.map` line; for
a bad source value, the source file's row (CSV, JSON Lines) and the value's columns; for an XSD
error, the output document's line.

A `report.json` written by an earlier exportc stored its problems as `{"file", "line", "source",
"rule", ...}`; `show`, `runs` and the console still read those."""
