"""`verify`: read back every secret and file; any difference fails the tenant."""

from __future__ import annotations

from provision.commands.common import run_mode
from provision.options import RunOptions


def run(opts: RunOptions) -> int:
    return 1 if any(r.error for r in run_mode("verify", opts)) else 0
