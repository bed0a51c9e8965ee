"""`plan`: what apply would change (reads only)."""

from __future__ import annotations

from provision.commands.common import run_mode
from provision.options import RunOptions


def run(opts: RunOptions) -> int:
    """0: nothing to change; 2 (with --detailed-exitcode): changes pending; 1: a tenant failed."""
    results = run_mode("plan", opts)
    if any(r.error for r in results):
        return 1
    if opts.detailed_exitcode and any(r.changes for r in results):
        return 2
    return 0
