"""Source readers: JSON arrays streamed item by item, and every kind of bad file named precisely."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import EXACT_PROFILE, EXAMPLES
from helpers import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exportc.runtime.jsonarray import JsonArrayError, iter_array
from exportc.runtime.sources import Binding, SourceError, read_raw

XML = "exact_online.invoices.xml"
JSONL = {"customers": EXAMPLES / "customers.jsonl", "invoices": EXAMPLES / "invoices.jsonl"}


@pytest.mark.parametrize("layout", ["compact", "pretty"])
def test_json_array_gives_the_same_bytes_as_json_lines(layout: str, tmp_path: Path) -> None:
    # The same objects, textually (so amounts keep their digits), as one array.
    sep, pad = (",", "") if layout == "compact" else (",\n  ", "\n  ")
    sources = {name: tmp_path / f"{name}.json" for name in JSONL}
    for name, path in JSONL.items():
        lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
        sources[name].write_text("[" + pad + sep.join(lines) + pad.rstrip(" ") + "]\n", "utf-8")
    for mode in ("true", "false"):
        a = run(EXACT_PROFILE, tmp_path / f"jsonl-{mode}", JSONL, params={"invoice_export": mode})
        b = run(EXACT_PROFILE, tmp_path / f"json-{mode}", sources, params={"invoice_export": mode})
        assert a.status == b.status == "succeeded", b.summary()
        assert (tmp_path / f"jsonl-{mode}" / XML).read_bytes() == (tmp_path / f"json-{mode}" / XML).read_bytes()


# ---- the streaming reader against json.loads as the oracle ------------------------------------

_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=12)
            | st.floats(allow_nan=False, allow_infinity=False))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_values, max_size=8), indent=st.none() | st.integers(0, 3), chunk=st.integers(1, 40))
def test_items_equal_json_loads_whatever_the_chunk_size(items: list[object], indent: int | None, chunk: int) -> None:
    text = json.dumps(items, indent=indent, ensure_ascii=False)
    expected = json.loads(text, parse_float=Decimal)
    assert repr(list(iter_array(io.StringIO(text), chunk=chunk))) == repr(expected)


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list('[]{},:"0123456789.eE-+ \n\ttruefalsnl\\x')), max_size=40),
       chunk=st.integers(1, 16))
def test_arbitrary_text_is_the_same_array_or_a_located_error(text: str, chunk: int) -> None:
    try:
        expected = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        expected, oracle = None, exc
    else:
        oracle = None
    try:
        got = list(iter_array(io.StringIO(text), chunk=chunk))
    except JsonArrayError as err:
        assert oracle is not None or not isinstance(expected, list), f"{text!r} is a valid array"
        if oracle is not None and text.lstrip(" \t\n\r").startswith("["):
            assert (err.line, err.column) == (oracle.lineno, oracle.colno), (text, err, oracle)
        return
    assert oracle is None and isinstance(expected, list), f"{text!r} is not a JSON array"
    assert repr(got) == repr(expected)


def test_an_item_bigger_than_the_buffer_is_read_whole() -> None:
    big = [{"n": i, "text": "x" * 5000, "lines": list(range(300))} for i in range(5)]
    assert list(iter_array(io.StringIO(json.dumps(big)), chunk=64)) == big


def test_memory_is_bounded_by_the_item_not_the_file() -> None:
    class Counting(io.StringIO):
        most = 0

        def read(self, size: int | None = -1) -> str:
            data = super().read(size)
            Counting.most = max(Counting.most, len(data))
            return data
    text = json.dumps([{"n": i, "pad": "y" * 100} for i in range(20000)])  # ~2.5 MB
    count = sum(1 for _ in iter_array(Counting(text), chunk=4096))
    assert count == 20000 and Counting.most <= 4096 * 2


def test_an_early_syntax_error_is_reported_without_reading_the_rest() -> None:
    class Counting(io.StringIO):
        total = 0

        def read(self, size: int | None = -1) -> str:
            data = super().read(size)
            Counting.total += len(data)
            return data
    rest = ",\n".join(json.dumps({"n": i, "pad": "z" * 100}) for i in range(20000))
    text = '[{"a": 1},\n {"a": tru},\n' + rest + "]"
    with pytest.raises(JsonArrayError) as info:
        list(iter_array(Counting(text), chunk=4096))
    assert (info.value.line, info.value.column, info.value.item) == (2, 8, 2)
    assert Counting.total <= 4096 * 2  # not the 2.4 MB after it


# ---- bad files: each names the file, the item and the place -----------------------------------

BAD_JSON = {
    "empty": ("", "the file is empty"),
    "object": ('{"a": 1}', "must be an array of objects"),
    "trailing-comma": ('[{"a": 1},\n]', "trailing comma (line 2, column 1)"),
    "unclosed": ('[{"a": 1}', "`]` is missing"),
    "missing-comma": ('[{"a": 1}\n {"a": 2}]', "expected `,` or `]` after an item (line 2, column 2)"),
    "bad-item": ('[{"a": 1},\n {"a": tru}]', "Expecting value (line 2, column 8)"),
    "after": ('[]\n[]', "text after the array's closing `]` (line 2, column 1)"),
    "scalar-item": ('[{"a": 1}, 2]', "item 2 is not an object"),
}


@pytest.mark.parametrize("case", BAD_JSON, ids=str)
def test_bad_json_file_names_where(case: str, tmp_path: Path) -> None:
    text, message = BAD_JSON[case]
    path = tmp_path / "invoices.json"
    path.write_text(text, "utf-8")
    with pytest.raises(SourceError) as info:
        list(read_raw(Binding("invoices", str(path))))
    assert info.value.code == "E0501"
    assert message in str(info.value) and str(path) in str(info.value)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    for suffix, text in ((".json", '[{"a": 1}]'), (".jsonl", '{"a": 1}\n')):
        path = tmp_path / f"s{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert [r.row for r in read_raw(Binding("s", str(path)))] == [{"a": 1}]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_non_utf8_file_names_the_byte(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"s{suffix}"
    body = {".json": b'[{"a": "caf\xe9"}]', ".jsonl": b'{"a": "caf\xe9"}\n', ".csv": b"a\ncaf\xe9\n"}[suffix]
    path.write_bytes(body)
    with pytest.raises(SourceError, match="not UTF-8 \\(byte 0xe9\\)"):
        list(read_raw(Binding("s", str(path))))


def test_bad_json_source_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "invoices.json"
    first = (EXAMPLES / "invoices.jsonl").read_text("utf-8").splitlines()[0]
    path.write_text(f"[{first},\n oops]", "utf-8")  # the first invoice is good and already emitted
    report = run(EXACT_PROFILE, tmp_path / "out", {**JSONL, "invoices": path}, params={"invoice_export": "1"})
    assert report.status == "failed"
    assert report.errors[0].code == "E0501" and "line 2, column 2" in report.errors[0].message
    assert not (tmp_path / "out" / XML).exists()


def test_wrong_number_of_csv_columns_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3\n", "utf-8")
    with pytest.raises(SourceError, match="row 3: expected 2 columns, found 1"):
        list(read_raw(Binding("s", str(path))))


def test_csv_field_over_the_limit_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3,\"" + "x" * 200_000 + "\"\n", "utf-8")
    with pytest.raises(SourceError, match="row 3: bad CSV: field larger than field limit") as info:
        list(read_raw(Binding("s", str(path))))
    assert info.value.code == "E0501"


def test_unreadable_file_is_a_source_error(tmp_path: Path) -> None:
    folder = tmp_path / "s.csv"
    folder.mkdir()  # exists, but is not a file
    with pytest.raises(SourceError, match="is a folder, not a file"):
        list(read_raw(Binding("s", str(folder))))
