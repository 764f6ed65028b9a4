"""The packed key sets a run keeps per record (``runtime/keyset.py``) answer exactly like a
Python set, also when digests collide: a duplicate is found, a collision never drops a record.
And whole production runs where every key shares one digest deliver what they deliver without
(duplicates found, deletions found, nothing dropped or delivered twice), on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_history
from hypothesis import given
from hypothesis import strategies as st
from test_history import BASE, delivered, invoice, produce, write_world

from exportc.runtime import keyset
from exportc.runtime.keyset import IntSet, KeyLog, KeySet

KEYS = st.lists(st.text(max_size=6) | st.sampled_from(["a", "b", 'x"\n\\y', "é", ""]), max_size=60)


def _answers(keys: KeySet, items: list[str]) -> list[bool]:
    try:
        return [keys.add(k) for k in items]
    finally:
        keys.close()


def _first_seen(items: list[str]) -> list[bool]:
    seen: set[str] = set()
    out = []
    for k in items:
        out.append(k not in seen)
        seen.add(k)
    return out


@given(KEYS)
def test_a_key_set_finds_exactly_the_keys_read_before(items: list[str]) -> None:
    assert _answers(KeySet(), items) == _first_seen(items)


@given(KEYS, st.integers(0, 3), st.integers(0, 10))
def test_keys_sharing_a_digest_are_told_apart(items: list[str], bits: int, budget: int) -> None:
    """A digest of 0-3 bits: nearly every key collides with another, and each collision is
    confirmed against the keys themselves (or, past the budget, by the exact set)."""
    tiny = KeySet(digest=lambda k: hash(k) & ((1 << bits) - 1), confirm_budget=budget)
    assert _answers(tiny, items) == _first_seen(items)


def test_a_collision_is_confirmed_and_a_repeating_source_turns_exact() -> None:
    keys = KeySet(digest=lambda _k: 42, confirm_budget=3)
    assert keys.add("a") and keys.add("b")  # the same digest, two keys: both new
    assert keys.add("b") is False  # found among the keys not yet written to the file
    assert keys.confirmations == 1
    assert not keys.add("a") and keys.add('c"\nd')  # read in the file
    assert keys.confirmations == 3 and keys._exact is None
    assert keys.add("e")  # the fourth confirmation: past the budget
    assert keys.confirmations == 4 and keys._exact == {"a", "b", 'c"\nd', "e"}
    assert not keys.add('c"\nd') and len(keys) == 4
    keys.close()


def test_a_confirmation_reads_the_keys_written_to_the_file() -> None:
    keys = KeySet(digest=lambda k: 0 if k in ("k1", "k2") else hash(k))
    others = [f"other{n}" for n in range(keyset._SPOOL_BATCH + 10)]  # k1 goes to the file
    assert keys.add("k1") and all(keys.add(k) for k in others)
    assert keys.add("k2")  # k1's digest: confirmed as another key
    assert not keys.add("k1")  # found in the file
    assert keys.confirmations == 2 and len(keys) == len(others) + 2
    keys.close()


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1) | st.integers(-3, 20000), max_size=80))
def test_an_int_set_is_a_set(values: list[int]) -> None:
    packed = IntSet()
    assert [packed.add(v) for v in values] == _first_seen(values)  # type: ignore[arg-type]
    assert len(packed) == len(set(values))
    assert all(v in packed for v in values)
    assert all(v + 8192 not in packed for v in values if v + 8192 not in values and IntSet.fits(v + 8192))


def test_an_int_set_holds_only_64_bit_ints() -> None:
    assert IntSet.fits(-(1 << 63)) and IntSet.fits((1 << 63) - 1)
    assert not IntSet.fits(1 << 63) and not IntSet.fits(True) and not IntSet.fits("1")
    assert "1" not in IntSet([1]) and True not in IntSet([1])


def test_a_key_log_reads_back_the_nth_key() -> None:
    log = KeyLog()
    keys: list[str | None] = [f"Factuurnummer={n}" for n in range(300)]
    keys[7], keys[-1] = None, 'odd "key"\nwith a line end'
    for n, k in enumerate(keys):
        log.append(k)
        if n % 100 == 99:
            log.spill()  # some in the file, some still in memory
    assert len(log) == len(keys) and log._written == 300
    log.append("after")
    assert [log.at(n) for n in (0, 7, 100, 299, 300)] == [keys[0], None, keys[100], keys[-1], "after"]
    log.append("later")  # appended after a read: found too
    assert log.at(301) == "later" and len(log) == 302
    with pytest.raises(IndexError):
        log.at(302)
    log.close()


@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of a run shares one digest (a confirmation for each key read after the first)."""
    monkeypatch.setattr(keyset, "_digest", lambda _k: 7)


@pytest.mark.usefixtures("colliding")
def test_a_production_run_whose_keys_all_collide_delivers_every_mutation(db: str, tmp_path: Path) -> None:
    test_history.test_production_delivers_exactly_the_mutations(db, tmp_path)


@pytest.mark.usefixtures("colliding")
def test_a_duplicate_among_colliding_keys_is_found_and_only_it_left_out(db: str, tmp_path: Path) -> None:
    world = write_world(tmp_path / "v", [*BASE, invoice("A2", "1.21")])
    report = produce(db, world, tmp_path / "r", skip_invalid=True)
    assert [(p.code, p.record) for p in report.errors] == [("E0609", "Factuurnummer=A2")]
    assert sorted(k for k, _ in delivered(tmp_path / "r")["invoices"]) == ["A1", "A2", "A3", "A4"]
