"""Guards before a production run delivers what an operator cannot have meant.

A partial or wrong source file, or a windowed run without ``--from/--to``, turns every delivered
record missing from the source into a deletion: a mass of credit notes and reversals. Before a
production run delivers more deletions than its guard allows (``max_deletions`` in
exportc.toml: a share of what was delivered before in the run's window and selection, or a
number of records; per profile in ``max_deletions_per_profile``), it stops and delivers nothing;
``--allow-deletions N`` lets it deliver up to N. A test run shows the same finding as a warning.
"""

from __future__ import annotations

from exportc.runtime.context import RunOptions
from exportc.runtime.report import Report, problem

# A share never forbids this many: a handful of deletions in a small history is ordinary work.
FLOOR = 5


def deletion_limit(setting: str, delivered_before: int) -> int:
    """The most deletions a run may deliver without ``--allow-deletions``."""
    if setting.endswith("%"):
        return max(FLOOR, delivered_before * int(setting[:-1]) // 100)
    return int(setting)


def check_deletions(report: Report, opts: RunOptions) -> bool:
    """Whether the run may deliver its deletions, judged per source; a production run over the
    guard gets an error (and must deliver nothing), a test run a warning."""
    ok = True
    for source, tally in report.records.items():
        deleted = tally.get("deleted", 0)
        before = sum(tally.get(k, 0) for k in ("changed", "unchanged", "deleted"))
        limit = deletion_limit(opts.max_deletions, before)
        if deleted <= limit or (opts.allow_deletions is not None and deleted <= opts.allow_deletions):
            continue
        ok = _refuse(report, opts, source, deleted, before, limit) and ok
    return ok


def _refuse(report: Report, opts: RunOptions, source: str, deleted: int, before: int, limit: int) -> bool:
    production = opts.mode == "production"
    allowed = (f"--allow-deletions {opts.allow_deletions} allows fewer; " if opts.allow_deletions is not None
               else "")
    message = (f"this run would deliver {deleted} deletions of the {before} `{source}` records delivered "
               f"before in its window and selection, more than the guard allows ({limit}; max_deletions = "
               f"{opts.max_deletions}); a partial or wrong source file looks like this. "
               + allowed + ("Nothing was delivered; check the source, and if these deletions are right run "
                            f"again with --allow-deletions {deleted}" if production else
                            f"a production run would stop here (--allow-deletions {deleted} lets it deliver them)"))
    report.problems.append(problem("error" if production else "warning",
                                   "E0630" if production else "W0630", message))
    return not production
