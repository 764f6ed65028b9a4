"""The packed line digests of a rerun (``runtime/knownlines``) answer as a dict of digests would."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from exportc.runtime.knownlines import KnownLines

# Few distinct bytes, so that digests share buckets and overlap one another's bytes
_DIGESTS = st.binary(min_size=16, max_size=16).map(lambda b: bytes(x & 3 for x in b))


@given(added=st.lists(st.tuples(_DIGESTS, st.none() | st.dates()), max_size=60),
       asked=st.lists(_DIGESTS, max_size=30))
def test_known_lines_answer_as_a_dict(added: list[tuple[bytes, dt.date | None]], asked: list[bytes]) -> None:
    lines = KnownLines(windows=True)
    model: dict[bytes, int] = {}
    windows: dict[bytes, dt.date | None] = {}
    for digest, window in added:
        position = lines.add(digest, window)
        if digest in model:
            assert position == -1  # a digest is known once
        else:
            assert position >= 0
            model[digest], windows[digest] = position, window
    assert lines.count == len(model)
    for digest in [*asked, *model]:
        assert lines.find(digest) == model.get(digest, -1)
    for digest, position in model.items():
        assert lines.window(position) == windows[digest]
        assert not lines.is_read(position)
    for digest in model:
        assert lines.mark(model[digest]) is True
    for digest in model:  # read before
        assert lines.mark(model[digest]) is False
    assert lines.read == len(model)


def test_a_digest_across_two_others_is_no_match() -> None:
    lines = KnownLines()
    # three digests of one bucket (their first two bytes), the third made of the end of the
    # first and the start of the second
    a = bytes([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15])
    b = bytes([0, 1, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33])
    lines.add(a)
    lines.add(b)
    straddling = a[8:] + b[:8]  # in the bucket's bytes, but not at a digest's place
    assert lines.find(straddling) == -1
    assert lines.add(straddling) >= 0 and lines.find(straddling) >= 0


def test_marking_reads_a_line_once() -> None:
    lines = KnownLines()
    at = lines.add(bytes(16))
    assert lines.mark(at) is True
    assert lines.mark(at) is False
    assert lines.is_read(at) and lines.read == 1
