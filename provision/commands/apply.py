"""`apply`: bring every selected tenant to the inventory's state, then read it back.

On a terminal it first shows the plan and asks (provision.commands.confirm); `--plan FILE`
applies a saved plan exactly (provision.saved_plan). Either way the tenants' writes are bound to
the plan's seals: a tenant whose world or inventory changed since is refused, not applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from provision.commands import confirm
from provision.commands.common import (
    endpoints_for,
    engine_session,
    prepare,
    report_results,
    resolve_secrets,
)
from provision.options import RunOptions

if TYPE_CHECKING:
    from provision.plan import TenantResult
    from provision.saved_plan import SealKey


def run(opts: RunOptions) -> int:
    from provision.report import print_tables
    from provision.saved_plan import SavedPlan, SealKey, user_key

    key: SealKey | None = None
    expected = None
    if opts.plan is not None:
        key = user_key(create=False)
        saved = SavedPlan.load(Path(opts.plan), key)
        opts = saved.options(opts, key)
        expected = saved.seals
    ask = confirm.should_ask(opts)
    if ask:
        key = SealKey.for_this_run()  # never written: binds the apply to the plan shown
    inv, renders = prepare(opts.inventory, list(opts.tenant), opts.templates)
    rendered = renders  # every selected tenant, for its readiness
    failed: list[TenantResult] = []
    with endpoints_for(opts, inv) as ep:
        values = resolve_secrets(inv, renders)
        with engine_session(opts, ep, inv, seal_key=key) as session:
            if ask:
                planned = session("plan", renders, values, keep_clients=True)
                print_tables("plan", planned)
                failed = [p for p in planned if p.error]
                if not any(p.changes for p in planned if not p.error):
                    print("\nNothing to apply.")
                    return 1 if failed else 0
                if not confirm.ask_about(planned):
                    print(confirm.CANCELLED)
                    return 1
                expected = confirm.seals(planned)
                renders = [r for r in renders if r.tenant.name in expected]
            results = failed + session("apply", renders, values, expected=expected)
    report_results("apply", opts, results, rendered)
    return 1 if any(r.error for r in results) else 0
