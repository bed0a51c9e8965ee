"""`validate`: check an inventory without Azure (structure, references, msticpy schema)."""

from __future__ import annotations

import json
import sys

from provision.commands.common import prepare
from provision.errors import UserInputError
from provision.render import TenantRender


def run(
    inventory: str, as_json: bool = False, check_secrets: bool = False, templates: str | None = None
) -> int:
    try:
        inv, renders = prepare(inventory, [], templates, check_secrets=check_secrets)
    except UserInputError as exc:
        if as_json:
            print(json.dumps({"ok": False, "problems": exc.lines()}, indent=2))
            return 1
        raise
    summary = [
        {
            "tenant": r.tenant.name,
            "users": [u.alias for u in r.tenant.user_list],
            "secrets": [{"vault": p.vault, "name": p.name, "source": p.source} for p in r.pushes],
            "files": sorted({n for files in r.user_files.values() for n in files}),
            "msticpy_overrides": _overrides(r),
        }
        for r in renders
    ]
    if as_json:
        doc = {
            "ok": True,
            "inventory": str(inv.path),
            "tenants": summary,
            "warnings": [str(w) for w in inv.warnings],
        }
        print(json.dumps(doc, indent=2))
    else:
        for line in inv.warning_lines():  # things that work, but not as the admin may think
            print(line, file=sys.stderr)
        secrets = sum(len(t["secrets"]) for t in summary)
        users = sum(len(t["users"]) for t in summary)
        checked = " (secret sources resolved)" if check_secrets else ""
        absent = sum(1 for r in renders if r.tenant.absent)
        leaving = f" ({absent} offboarded: state: absent)" if absent else ""
        print(
            f"{inv.path}: ok: {len(summary)} tenants{leaving}, {users} users, "
            f"{secrets} Key Vault secrets{checked}"
        )
        _print_block_overrides(renders)
    return 0


def _overrides(r: TenantRender) -> list[str]:
    """Settings the tenant's msticpy: block overrides (the block wins; validate says so)."""
    from provision.msticpy_contract.block_rules import block_overrides

    return block_overrides(r.tenant)


def _print_block_overrides(renders: list[TenantRender]) -> None:
    for r in renders:
        for path in _overrides(r):
            print(f"note: tenant {r.tenant.name}: msticpy.{path} overrides the inventory's value")
