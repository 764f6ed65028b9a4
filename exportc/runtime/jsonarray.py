"""Items of a top-level JSON array, one at a time, without reading the whole file.

``json.load`` would hold the whole export's input (and every object of it) in memory at once;
here the text is read in chunks and each item is decoded with ``JSONDecoder.raw_decode`` as soon
as it is complete, so memory is bounded by the largest item, not by the file. An item that does
not fit in the buffer yet makes the buffer grow (doubling, so a large item costs O(n log n)); a
syntax error is reported as soon as it cannot be an item that is merely not complete yet.
Errors carry the line and column in the file, like ``json.loads`` would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TextIO

CHUNK = 1 << 16
_WS = " \t\n\r"
_DELIMITERS = _WS + ",]"


class JsonArrayError(ValueError):
    """The text is not a JSON array; ``line``/``column`` are 1-based, ``item`` the item being read."""

    def __init__(self, message: str, line: int, column: int, item: int | None) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message, self.line, self.column, self.item = message, line, column, item


class DuplicateKey(ValueError):
    """A JSON object with the same key twice (json would silently keep the last)."""


def value_error(exc: ValueError) -> str:
    """What a ValueError from decoding JSON means, in the source's terms (not Python's advice)."""
    if "integer string conversion" in str(exc):
        return "a number with more than 4300 digits"
    return str(exc)


def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for every JSON source: an object, refusing a key given twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise DuplicateKey(f"the key `{k}` appears twice in one object")
            seen.add(k)
    return obj


class _Buffer:
    """A sliding window over the text: ``text[pos:]`` is what is not consumed yet."""

    def __init__(self, fh: TextIO, chunk: int) -> None:
        self.fh, self.chunk = fh, chunk
        self.text, self.pos, self.eof = "", 0, False
        self.line_base = 1   # line number of text[0]
        self.col_base = 0    # characters of text[0]'s line that were dropped before text[0]

    def more(self) -> bool:
        """Read on; the read grows with what is pending, so one big item is read in few steps."""
        if self.eof:
            return False
        data = self.fh.read(max(self.chunk, len(self.text) - self.pos))
        if not data:
            self.eof = True
            return False
        if self.pos > self.chunk:  # drop what is consumed, keeping line/column bookkeeping
            dropped = self.text[:self.pos]
            newlines = dropped.count("\n")
            if newlines:
                self.line_base += newlines
                self.col_base = len(dropped) - dropped.rfind("\n") - 1
            else:
                self.col_base += len(dropped)
            self.text, self.pos = self.text[self.pos:], 0
        self.text += data
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the text)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.more():
                return ""

    def where(self, pos: int) -> tuple[int, int]:
        newlines = self.text.count("\n", 0, pos)
        if newlines:
            return self.line_base + newlines, pos - self.text.rfind("\n", 0, pos)
        return self.line_base, self.col_base + pos + 1


def _may_be_cut(exc: json.JSONDecodeError, text: str) -> bool:
    """Whether the error may only mean the item goes on past the buffer. The decoder stops at the
    first wrong character; when the text is merely cut, that is within one token of its end
    (`-Infinity` is the longest), except for a string, reported where it starts."""
    return exc.pos + 10 >= len(text) or exc.msg.startswith("Unterminated string")


def iter_array(fh: TextIO, chunk: int = CHUNK) -> Iterator[Any]:
    """Each item of the JSON array in ``fh`` (floats as Decimal), checking the syntax around them."""
    decoder = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=json_object)
    buf = _Buffer(fh, chunk)
    item = 0

    def fail(message: str, pos: int | None = None) -> JsonArrayError:
        line, column = buf.where(buf.pos if pos is None else pos)
        return JsonArrayError(message, line, column, item or None)

    first = buf.peek()
    if first != "[":
        raise fail("a JSON source must be an array of objects: `[{...}, {...}]`" if first
                   else "the file is empty; a JSON source must be an array, `[]` when there are no records")
    buf.pos += 1
    if buf.peek() == "]":
        buf.pos += 1
    else:
        while True:
            item += 1
            if buf.peek() == "]":
                raise fail("a comma before `]`: JSON allows no trailing comma")
            while True:
                try:
                    value, end = decoder.raw_decode(buf.text, buf.pos)
                except json.JSONDecodeError as exc:
                    if _may_be_cut(exc, buf.text) and buf.more():
                        continue
                    raise fail(exc.msg, exc.pos) from None
                except ValueError as exc:  # a key twice, or an integer of over 4300 digits
                    raise fail(value_error(exc)) from None
                # A number read up to the buffer's end (`0` of `0.5`) may go on in the file: a
                # scalar counts only once the character after it is a delimiter.
                if (not isinstance(value, dict | list | str)
                        and (end == len(buf.text) or buf.text[end] not in _DELIMITERS) and buf.more()):
                    continue
                break
            buf.pos = end
            yield value
            sep = buf.peek()
            if sep == ",":
                buf.pos += 1
                continue
            if sep == "]":
                buf.pos += 1
                break
            raise fail("expected `,` or `]` after an item" if sep else "the array is not closed: `]` is missing")
    if buf.peek():
        raise fail("text after the array's closing `]`")
