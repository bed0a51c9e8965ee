"""`onboard`: validate -> plan -> apply -> verify in one run, with one engine session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provision.commands import confirm
from provision.commands.common import (
    endpoints_for,
    engine_session,
    local_state_dir,
    prepare_with_values,
)
from provision.errors import UserInputError
from provision.inventory.model import Inventory
from provision.options import RunOptions

if TYPE_CHECKING:
    from provision.plan import TenantResult


def run(opts: RunOptions) -> int:
    """validate -> plan -> apply -> verify, against one set of endpoints."""
    from provision.readiness import assess_all
    from provision.report import (
        as_document,
        print_json,
        print_next_steps,
        print_summary,
        print_tables,
        write_step_summary,
    )
    from provision.report import tenants as tenants_text
    from provision.saved_plan import SealKey

    if opts.plan is not None:
        raise UserInputError(["--plan: onboard plans itself; apply a saved plan with apply --plan"])
    ask = confirm.should_ask(opts)
    tenants = list(opts.tenant)
    inv, renders, values = prepare_with_values(opts.inventory, tenants, opts.templates, True)
    if not opts.json:
        print(f"validated {inv.path}: {tenants_text(len(renders))}")
    key = SealKey.for_this_run() if ask else None  # binds the apply to the plan shown
    with endpoints_for(opts, inv) as ep, engine_session(opts, ep, inv, seal_key=key) as run:
        # plan and apply keep the tenants' clients (and their tokens) for the next step
        planned = run("plan", renders, values, keep_clients=True)
        if not opts.json:
            print_tables("plan", planned)
        ok_renders = [r for r, p in zip(renders, planned, strict=True) if p.error is None]
        if ask and not confirm.ask_about(planned):
            print(confirm.CANCELLED)
            return 1
        expected = confirm.seals(planned) if ask else None
        applied = (
            run("apply", ok_renders, values, keep_clients=True, expected=expected)
            if ok_renders
            else []
        )
        if not opts.json:
            print_summary("apply", applied)
        verified = run("verify", ok_renders, values) if ok_renders else []
    failed_plan = [p for p in planned if p.error]
    final = failed_plan + [v if v.error else a for a, v in zip(applied, verified, strict=True)]
    # What the analysts can use is what verify read back, after the apply.
    ready = assess_all(renders, failed_plan + verified, opts.inventory)
    if opts.json:
        print_json(
            as_document(
                "apply",
                final,
                {"plan": [p.as_dict() for p in planned], "verify": [v.as_dict() for v in verified]},
                readiness=ready,
            )
        )
    else:
        print_summary("verify", verified, ready)
        _print_where(inv, final, opts)
        print_next_steps(ready)
    write_step_summary("apply", final)
    return 1 if any(r.error for r in final) else 0


def _print_where(inv: Inventory, results: list[TenantResult], opts: RunOptions) -> None:
    by_name = {r.tenant: r for r in results}
    print("\nWhat lives where:")
    for t in inv.select(list(opts.tenant)):
        r = by_name.get(t.name)
        res = r.resources if r is not None else {}
        users = ", ".join(u.alias for u in t.user_list) or "no users yet"
        secrets = sum(1 for i in r.items if i.kind == "secret") if r is not None else 0
        print(
            f"  {t.name}: {secrets} secrets in Key Vault {t.key_vault}; "
            f"files in storage account {res.get('storage_account', '?')}, share "
            f"{res.get('file_share', '?')}, under Users/<alias>/ for {users}"
        )
    if opts.local:
        state = local_state_dir(inv.path)
        print(
            f"\nThe local emulator's state is in {state}. Inspect it with:\n"
            f"  msticpy-provision emulator --state-dir {state}     (in another terminal)\n"
            f"  msticpy-provision plan -i {opts.inventory} --endpoints {state}/endpoints.json\n"
            f"Start over with --fresh."
        )
