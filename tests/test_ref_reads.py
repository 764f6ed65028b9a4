"""A referenced record is held as the profile reads it: the compiler tells which of its fields
are read through a ref (``klant.Naam``), and the index of referenced records keeps only those,
so a customer referred to by a million invoices costs its key, not its every field."""

from __future__ import annotations

from pathlib import Path

from exportc.compiler.pipeline import compile_file
from exportc.runtime.records import RecordReader, _KeysOnly
from exportc.runtime.sources import Binding

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
    """Keys of one integer are packed (9 bytes a customer); any other key is kept as it is."""
    index = _KeysOnly()
    for key in [(1,), (-5,), (1 << 62,), ("K1",), (2, "x"), (1 << 70,)]:
        index[key] = {}
    assert len(index.ints) == 3 and index.other == {("K1",), (2, "x"), (1 << 70,)}
    assert [index.get(k) for k in [(1,), ("K1",), (2, "x"), (1 << 70,)]] == [{}, {}, {}, {}]
    assert [index.get(k) for k in [(2,), ("1",), (1, "x"), (8193,), (1 << 71,)]] == [None] * 5
