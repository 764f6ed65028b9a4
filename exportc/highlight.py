"""A Pygments lexer for profiles (``.map``), so the docs and ``exportc doc`` can highlight
profile excerpts (```` ```exportc ```` fences). Registered as the ``exportc`` lexer through the
``pygments.lexers`` entry point; the token classes follow the editors' TextMate grammar
(``editors/vscode/syntaxes``). Pygments comes with rich, a dependency already.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

_PATH = r"[A-Za-z_@][\w.:@-]*(?:/[A-Za-z_@][\w.:@-]*)*"
_DECLS = ("profile", "target", "history", "param", "table", "source", "let", "check")
_HEADER = r"^(\s*)(?!(?:" + "|".join(_DECLS) + r")\b)(" + _PATH + r")(?=\s+(?:for|where|when)\b|\s*\{)"
_RULE = r"(?<![<>=!-])(>)(?!=)(\s*)(" + _PATH + r")(\s+override)?(?=\s*(?:#|\}|$))"


class ExportcLexer(RegexLexer):  # type: ignore[misc]
    """Export profiles: declarations, blocks with their target paths, rules and expressions."""

    name = "exportc"
    aliases: ClassVar[list[str]] = ["exportc", "exportc-profile"]
    filenames: ClassVar[list[str]] = ["*.map"]
    mimetypes: ClassVar[list[str]] = ["text/x-exportc"]

    tokens: ClassVar[dict[str, list[tuple[object, ...] | object]]] = {  # type: ignore[misc]
        "root": [
            (r"\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"', String.Double, "string"),
            (r"^(\s*)(param|table|source|let)(\s+)([A-Za-z_]\w*)",
             bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Variable)),
            (r"^(\s*)(profile)(\s+)([\w.]+)", bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Class)),
            (r"\b(root)(\s+)([\w.:-]+)", bygroups(Keyword, Whitespace, Name.Tag)),
            (_HEADER, bygroups(Whitespace, Name.Tag)),
            (_RULE, bygroups(Operator.Word, Whitespace, Name.Tag, Keyword.Pseudo)),
            (r"^(\s*)([A-Za-z_]\w*)(\s*)(:)(?!:)", bygroups(Whitespace, Name.Attribute, Whitespace, Punctuation)),
            (r"[ \t]+", Whitespace),
            (words(_DECLS, suffix=r"\b"), Keyword.Declaration),
            (words(("for", "where", "when", "by", "per", "if", "then", "else", "in", "not", "and", "or",
                    "on"), suffix=r"\b"), Keyword),
            (words(("error", "warning", "override", "key", "window", "from", "default", "passthrough",
                    "extends", "full", "mutations", "none"), suffix=r"\b"), Keyword.Pseudo),
            (r"\b[A-Za-z_]\w*(?=\s*\()", Name.Function),
            (words(("text", "int", "decimal", "bool", "date", "datetime", "list", "any"), suffix=r"\b"),
             Keyword.Type),
            (words(("true", "false", "null"), suffix=r"\b"), Keyword.Constant),
            (r"\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?\b", Number.Other),
            (r"\b\d+\.\d+\b", Number.Float),
            (r"\b\d+\b", Number.Integer),
            (words(("run", "previous", "change"), prefix=r"\b", suffix=r"\b"), Name.Builtin.Pseudo),
            (r"->", Operator),
            (r"==|!=|<=|>=|<|>|\+|-|\*|/|=|\?", Operator),
            (r"[{}\[\](),.:]", Punctuation),
            (r"[A-Za-z_]\w*", Name),
            (r".", Text),
        ],
        "string": [
            (r'\\["\\ntr]', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
            (r"\n", Text, "#pop"),
            (r"\\.", String.Double),
        ],
    }


TOKEN_TYPES: tuple[_TokenType, ...] = (Comment.Single, String.Double, String.Escape, Keyword.Declaration,
                                       Keyword, Keyword.Pseudo, Keyword.Type, Keyword.Constant, Name.Tag,
                                       Name.Variable, Name.Attribute, Name.Function, Name.Builtin.Pseudo,
                                       Name.Class, Number.Integer, Number.Float, Number.Other, Operator,
                                       Operator.Word)
