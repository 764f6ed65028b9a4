"""A Schematron worker process (``python -m exportc.runtime.ruleworker``), started by
``schematron.RulePool``: it reads the stylesheet sets to compile, then batches of documents, and
answers each batch with its failed asserts, in order, until its input closes."""

from __future__ import annotations

import os
import sys

from exportc.runtime.schematron import Schematron, SchematronUnavailable, receive, send


def main() -> None:
    """Compile once, then check batches; a compile error is the answer to every batch (so the
    run says why instead of seeing a dead pipe)."""
    stdin = sys.stdin.buffer
    # The answers get their own copy of stdout; anything else printed (Saxon's messages) goes to
    # stderr instead of into the answers.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    kinds: list[tuple[str, ...]] = receive(stdin)
    rules: dict[tuple[str, ...], Schematron] = {}
    broken = None
    try:
        for paths in kinds:
            rules[paths] = Schematron(paths)
    except SchematronUnavailable as exc:
        broken = str(exc)
    while True:
        try:
            paths, xmls = receive(stdin)
        except EOFError:
            return
        if broken is not None:
            send(stdout, (False, broken))
        else:
            send(stdout, (True, [rules[paths].check(x) for x in xmls]))


if __name__ == "__main__":
    main()
