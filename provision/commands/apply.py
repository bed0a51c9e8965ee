"""`apply`: bring every selected tenant to the inventory's state, then read it back."""

from __future__ import annotations

from provision.commands.common import run_mode
from provision.options import RunOptions


def run(opts: RunOptions) -> int:
    return 1 if any(r.error for r in run_mode("apply", opts)) else 0
