"""Asking before apply changes anything: on a terminal, apply and onboard show the plan first.

Asked only when both stdin and stdout are terminals, as Terraform does: a run in CI, a pipe or a
script keeps applying without asking (the workflows in .github/workflows rely on it), `--yes`
skips the question, and `--local` (a throwaway emulator) never asks.
"""

from __future__ import annotations

import sys

from provision.errors import UserInputError
from provision.options import RunOptions

CANCELLED = "Apply cancelled: nothing was changed."


def should_ask(opts: RunOptions) -> bool:
    """Whether this run asks before it applies; refuses --json on a terminal without --yes."""
    if opts.yes or opts.local or opts.plan is not None:
        return False
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if opts.json:
        raise UserInputError(
            ["--json on a terminal needs --yes (apply cannot ask while it prints JSON)"]
        )
    return True


def ask(changes: int, tenants: int) -> bool:
    """Ask whether to apply; only "yes" says yes (end of input or anything else says no)."""
    print(
        f"\nApply {changes} changes to {tenants} tenants? Only 'yes' applies them "
        "(run with --yes to skip this question).",
        flush=True,
    )
    # (input() would write its prompt to stderr on a terminal: the question belongs with the plan)
    print("  Apply? ", end="", flush=True)
    return sys.stdin.readline().strip().lower() == "yes"  # "" at the end of input: no
