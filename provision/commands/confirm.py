"""Asking before apply changes anything: on a terminal, apply and onboard show the plan first.

Asked only when both stdin and stdout are terminals, as Terraform does: a run in CI, a pipe or a
script keeps applying without asking (the workflows in .github/workflows rely on it), `--yes`
skips the question, and `--local` (a throwaway emulator) never asks.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from provision import report
from provision.errors import UserInputError
from provision.options import RunOptions

if TYPE_CHECKING:
    from provision.plan import TenantResult

CANCELLED = "Apply cancelled: nothing was changed."


def seals(planned: list[TenantResult]) -> dict[str, Mapping[str, str]]:
    """The seals apply keeps to: those of the plan shown, for its tenants that did not fail."""
    return {p.tenant: p.plan.seal for p in planned if not p.error}


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


def ask_about(planned: list[TenantResult]) -> bool:
    """Ask whether to apply the plan shown (its tenants that did not fail); yes when it changes
    nothing. Only "yes" says yes: the end of input or anything else says no."""
    ok = [p for p in planned if not p.error]
    changes = sum(len(p.changes) for p in ok)
    if not changes:
        return True
    tenants = sum(1 for p in ok if p.changes)
    print(
        f"\nApply {changes} change{'s' if changes != 1 else ''} to {report.tenants(tenants)}? "
        "Only 'yes' applies them "
        "(run with --yes to skip this question).",
        flush=True,
    )
    # (input() would write its prompt to stderr on a terminal: the question belongs with the plan)
    print("  Apply? ", end="", flush=True)
    return sys.stdin.readline().strip().lower() == "yes"  # "" at the end of input: no
