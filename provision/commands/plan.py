"""`plan`: what apply would change (reads only); with `--out`, saved for `apply --plan`."""

from __future__ import annotations

import sys
from pathlib import Path

from provision.commands.common import (
    endpoints_for,
    engine_session,
    prepare,
    report_results,
    resolve_secrets,
)
from provision.errors import UserInputError
from provision.options import RunOptions


def run(opts: RunOptions) -> int:
    """0: nothing to change; 2 (with --detailed-exitcode): changes pending; 1: a tenant failed."""
    from provision import saved_plan

    key = saved_plan.user_key(create=True) if opts.out else None
    inv, renders = prepare(opts.inventory, list(opts.tenant), opts.templates)
    with endpoints_for(opts, inv) as ep:
        # plan --no-secret-values needs no secret source at all (a pull request's plan)
        values = {} if opts.no_secret_values else resolve_secrets(inv, renders)
        with engine_session(opts, ep, inv, seal_key=key) as session:
            results = session("plan", renders, values)
    report_results("plan", opts, results, renders)
    failed = [r.tenant for r in results if r.error]
    if opts.out and key is not None:
        if failed:
            raise UserInputError(
                [f"--out: plan not saved: {len(failed)} tenants failed ({', '.join(failed)})"]
            )
        saved_plan.save(Path(opts.out), opts, results, key)
        changes = sum(len(r.changes) for r in results)
        out = sys.stderr if opts.json else sys.stdout  # --json: stdout holds the document only
        print(
            f"\nSaved the plan ({changes} changes) to {opts.out}; apply exactly it with:", file=out
        )
        where = " --local" if opts.local else f" -e {opts.endpoints}" if opts.endpoints else ""
        print(f"  msticpy-provision apply -i {opts.inventory}{where} --plan {opts.out}", file=out)
    if failed:
        return 1
    if opts.detailed_exitcode and any(r.changes for r in results):
        return 2
    return 0
