"""The packed line digests of a rerun (``runtime/knownlines``) answer as a dict of their tags
would, and add up what a tag alone cannot tell."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exportc.runtime import knownlines
from exportc.runtime.knownlines import TAG_BYTES, KnownLines

# Few distinct bytes, so that digests share buckets and tags and overlap one another's bytes
_DIGESTS = st.binary(min_size=16, max_size=16).map(lambda b: bytes(x & 3 for x in b))


def _tag(digest: bytes) -> bytes:
    """What tells two digests apart in `KnownLines`: the bucket's 13 bits and the tag."""
    return bytes([digest[0], digest[1] & 0x1F]) + digest[2:2 + TAG_BYTES]


@given(added=st.lists(st.tuples(_DIGESTS, st.none() | st.dates()), max_size=60),
       asked=st.lists(_DIGESTS, max_size=30), expected=st.sampled_from([0, 5, 60, 10_000]))
def test_known_lines_answer_as_a_dict_of_tags(added: list[tuple[bytes, dt.date | None]], asked: list[bytes],
                                             expected: int) -> None:
    lines = KnownLines(windows=True, expected=expected)  # (any size made first: a bound, not a limit)
    model: dict[bytes, int] = {}
    windows: dict[bytes, dt.date | None] = {}
    digests: dict[bytes, bytes] = {}
    for digest, window in added:
        position = lines.add(digest, window)
        if _tag(digest) in model:
            assert position == -1  # a tag is known once
        else:
            assert position >= 0
            model[_tag(digest)], windows[_tag(digest)], digests[_tag(digest)] = position, window, digest
    assert lines.count == len(model)
    assert lines.loaded == sum(hash(d) for d in digests.values())
    for digest in [*asked, *digests.values()]:
        assert lines.find(digest) == model.get(_tag(digest), -1)
    for tag, position in model.items():
        assert lines.window(position) == windows[tag]
        assert not lines.is_read(position)
    for i, (tag, position) in enumerate(model.items()):
        if i % 2:  # read by its line
            assert lines.mark(position, digests[tag]) is True
        else:  # by its key, its delivered digest at hand but for the fifth of them
            assert lines.mark(position, delivered=digests[tag] if i % 5 else None) is True
        assert lines.read_by_line(position) is bool(i % 2)
    by_line = sum(hash(digests[t]) for i, t in enumerate(model) if i % 2)
    blind = any(not i % 2 and not i % 5 for i in range(len(model)))
    assert lines.by_line_sum() == (None if blind and len(model) > 1 else by_line)
    for position in model.values():  # read before: no count or sum changes
        assert lines.mark(position, bytes(16)) is False
    assert lines.read == len(model)
    assert lines.by_line == len(model) // 2
    assert lines.matched == by_line


def test_a_line_taken_for_another_by_its_tag_makes_the_sums_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two digests of one bucket and tag: the second line finds the first's position, and only
    the sum of what was matched can tell (``tracker.HistoryTracker._gone`` compares it)."""
    delivered = bytes(range(16))
    other = delivered[:2 + TAG_BYTES] + bytes(16 - 2 - TAG_BYTES)  # the same tag, other bytes after it
    lines = KnownLines()
    at = lines.add(delivered)
    assert lines.find(other) == at  # taken for the delivered line
    lines.mark(at, other)
    assert lines.by_line == lines.count and lines.matched != lines.by_line_sum() == lines.loaded
    monkeypatch.setattr(knownlines, "TAG_BYTES", 1)  # a narrower tag: more lines share one
    narrow = KnownLines()
    assert narrow.add(bytes([0, 0, 7, 1])) >= 0 and narrow.add(bytes([0, 0, 7, 2])) == -1


def test_a_tag_across_two_others_is_no_match() -> None:
    lines = KnownLines()
    # three digests of one bucket (their first two bytes), the third's tag made of the end of
    # the first's slot (its tag's last bytes, its read byte) and the start of the second's
    a = bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    b = bytes([0, 1, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33])
    lines.add(a)
    lines.add(b)
    half = TAG_BYTES // 2
    straddling = a[:2] + a[2 + half:2 + TAG_BYTES] + bytes(1) + b[2:2 + TAG_BYTES - half - 1] + bytes(16)
    assert lines.find(straddling) == -1  # in the bucket's bytes, but not at a slot's place
    assert lines.add(straddling) >= 0 and lines.find(straddling) >= 0


def test_marking_reads_a_line_once() -> None:
    lines = KnownLines()
    at = lines.add(bytes(16))
    assert lines.mark(at) is True
    assert lines.mark(at) is False
    assert lines.is_read(at) and lines.read == 1 and not lines.read_by_line(at)
