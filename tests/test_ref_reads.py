"""A referenced record is held as the profile reads it: the compiler tells which of its fields
are read through a ref (``klant.Naam``), and the index of referenced records keeps only those,
so a customer referred to by a million invoices costs its key, not its every field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exportc.artefact import Artefact
from exportc.compiler.pipeline import compile_file
from exportc.runtime import typedjson
from exportc.runtime.records import RecordReader, _KeysOnly
from exportc.runtime.sources import Binding, SourceError

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "i-reserve"
PEPPOL_READS = ("Adres", "BTW_nummer", "Bedrijfsnaam", "Email", "Huisnummer", "KvK", "Land",
                "Peppol_ID", "Postcode", "Telefoon", "Toevoeging", "Woonplaats")


def _refs(profile: str) -> tuple[tuple[str, ...] | None, list[object]]:
    """The compiler's ref_reads of `customers`, and each invoice's `klant` as the reader holds it."""
    artefact = compile_file(ROOT / "profiles" / profile).artefact
    assert artefact is not None
    bindings = {name: Binding(name, str(EXAMPLE / f"{name}.jsonl")) for name in ("customers", "invoices")}
    reader = RecordReader("invoices", artefact.sources["invoices"], bindings, artefact.sources)
    klanten = [rec.value["klant"] for rec in reader if rec.value is not None]
    return artefact.sources["customers"].ref_reads, klanten


def test_a_ref_read_only_for_existence_keeps_no_field() -> None:
    reads, klanten = _refs("exact-online/exact-online.map")
    assert reads == ()  # the Exact profile only tests `klant != null`
    found = [k for k in klanten if k is not None]
    assert found and all(k == {} for k in found)  # present, and nothing held


def test_a_ref_keeps_exactly_the_fields_the_profile_reads() -> None:
    reads, klanten = _refs("peppol-bis3/peppol-bis3.map")
    assert reads == PEPPOL_READS  # `klant.X` and `previous.klant.X`, in checks, lets and rules
    found = [k for k in klanten if k is not None]
    assert found and all(isinstance(k, dict) and tuple(sorted(k)) == PEPPOL_READS for k in found)


def test_a_source_no_ref_points_at_says_nothing() -> None:
    artefact = compile_file(ROOT / "profiles" / "exact-online" / "exact-online.map").artefact
    assert artefact is not None
    assert artefact.sources["invoices"].ref_reads is None


def test_an_existence_only_index_knows_exactly_its_keys() -> None:
    """Keys of one integer are bits (below 2^24) or packed (9 bytes); any other key is kept as
    it is."""
    index = _KeysOnly()
    for key in [(1,), (0,), (9,), ((1 << 24) - 1,), (1 << 24,), (-5,), (1 << 62,), ("K1",), (2, "x"),
                (1 << 70,)]:
        index[key] = {}
    assert len(index.ints) == 3 and index.other == {("K1",), (2, "x"), (1 << 70,)}
    assert len(index.bits) == 1 << 21  # up to the largest key below 2^24
    found = [(1,), (0,), (9,), ((1 << 24) - 1,), (1 << 24,), (-5,), ("K1",), (2, "x"), (1 << 70,)]
    assert [index.get(k) for k in found] == [{}] * len(found)
    missing = [(2,), (8,), (10,), ("1",), (1, "x"), (8193,), (1 << 23,), ((1 << 24) + 1,), (-4,), (1 << 71,)]
    assert [index.get(k) for k in missing] == [None] * len(missing)
    small = _KeysOnly()
    small[(3,)] = {}
    assert small.get((3,)) == {} and small.get((4,)) is None and small.get((100,)) is None


def _bindings(tmp_path: Path, extra: list[str]) -> dict[str, Binding]:
    """The example's sources, customers with ``extra`` lines after its own."""
    customers = (EXAMPLE / "customers.jsonl").read_text("utf-8").splitlines()
    (tmp_path / "customers.jsonl").write_text("\n".join([*customers, *extra]) + "\n", "utf-8")
    return {"customers": Binding("customers", str(tmp_path / "customers.jsonl")),
            "invoices": Binding("invoices", str(EXAMPLE / "invoices.jsonl"))}


def _invoices(artefact: Artefact, bindings: dict[str, Binding], shared: dict[str, Any] | None) -> list[object]:
    reader = RecordReader("invoices", artefact.sources["invoices"], bindings, artefact.sources, ref_index=shared)
    return [(rec.value, rec.error and str(rec.error)) for rec in reader]


def test_a_referenced_source_the_run_reads_is_indexed_as_it_is_read_not_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers sharing an index (one run's): reading `customers` builds its index, and the
    invoices find their `klant` there, the same as in an index read on its own; the customers
    file is opened once. A customer given twice is indexed as `_refs` indexes it (the later)."""
    artefact = compile_file(ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map").artefact
    assert artefact is not None
    first = json.loads((EXAMPLE / "customers.jsonl").read_text("utf-8").splitlines()[0])
    bindings = _bindings(tmp_path, [json.dumps({**first, "Bedrijfsnaam": "Later BV"})])
    alone = _invoices(artefact, bindings, None)
    opened: list[str] = []

    def counting_open(file: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(Path(file).name)
        return open(file, *args, **kwargs)
    monkeypatch.setattr(typedjson, "open", counting_open, raising=False)
    shared: dict[str, Any] = {}
    assert list(RecordReader("customers", artefact.sources["customers"], bindings, artefact.sources,
                             ref_index=shared))
    assert "customers" in shared and opened == ["customers.jsonl"]
    assert _invoices(artefact, bindings, shared) == alone and opened == ["customers.jsonl", "invoices.jsonl"]
    assert shared["customers"][(first["cust_id"],)]["Bedrijfsnaam"] == "Later BV"


def test_a_referenced_source_that_fails_part_way_is_not_kept_as_its_index(tmp_path: Path) -> None:
    """A source that ends on a line that is not JSON leaves no index: the invoices read it
    again and fail there, as they did on their own."""
    artefact = compile_file(ROOT / "profiles" / "peppol-bis3" / "peppol-bis3.map").artefact
    assert artefact is not None
    bindings = _bindings(tmp_path, ["not json"])
    shared: dict[str, Any] = {}
    with pytest.raises(SourceError):
        list(RecordReader("customers", artefact.sources["customers"], bindings, artefact.sources,
                          ref_index=shared))
    assert "customers" not in shared
    with pytest.raises(SourceError):
        _invoices(artefact, bindings, shared)
