"""`validate`: check an inventory without Azure (structure, references, msticpy schema)."""

from __future__ import annotations

import json
import sys
from typing import Any

from provision.commands.common import prepare, secret_file_warnings
from provision.errors import UserInputError
from provision.inventory.rules import MSTICPY_CLI_TENANT_FIX, msticpy_cli_needs_tenant_fix
from provision.render import TenantRender
from provision.report import tenants


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
    file_warnings = secret_file_warnings(inv, renders)
    summary: list[dict[str, Any]] = [
        {
            "tenant": r.tenant.name,
            "users": [u.alias for u in r.tenant.user_list],
            "secrets": [{"vault": p.vault, "name": p.name, "source": p.source} for p in r.pushes],
            "files": sorted({n for files in r.user_files.values() for n in files}),
            "msticpy_overrides": _overrides(r),
            "msticpy_minimum": MSTICPY_CLI_TENANT_FIX
            if msticpy_cli_needs_tenant_fix(r.tenant)
            else None,
        }
        for r in renders
    ]
    if as_json:
        doc = {
            "ok": True,
            "inventory": str(inv.path),
            "tenants": summary,
            "warnings": [str(w) for w in (*inv.warnings, *file_warnings)],
        }
        print(json.dumps(doc, indent=2))
    else:
        for line in inv.warning_lines():  # things that work, but not as the admin may think
            print(line, file=sys.stderr)
        for w in file_warnings:
            print(f"warning: {w}", file=sys.stderr)
        secrets = sum(len(t["secrets"]) for t in summary)
        users = sum(len(t["users"]) for t in summary)
        checked = " (secret sources resolved)" if check_secrets else ""
        absent = sum(1 for r in renders if r.tenant.absent)
        leaving = f" ({absent} offboarded: state: absent)" if absent else ""
        print(
            f"{inv.path}: ok: {tenants(len(summary))}{leaving}, {users} users, "
            f"{secrets} Key Vault secrets{checked}"
        )
        _print_block_overrides(renders)
        _print_msticpy_minimum(renders)
    return 0


def _overrides(r: TenantRender) -> list[str]:
    """Settings the tenant's msticpy: block overrides (the block wins; validate says so)."""
    from provision.msticpy_contract.block_rules import block_overrides

    return block_overrides(r.tenant)


def _print_block_overrides(renders: list[TenantRender]) -> None:
    for r in renders:
        for path in _overrides(r):
            print(f"note: tenant {r.tenant.name}: msticpy.{path} overrides the inventory's value")


def _print_msticpy_minimum(renders: list[TenantRender]) -> None:
    """The msticpy the compute instances need, where the render holds Azure.tenant_id and cli is
    among the auth methods (provision.inventory.rules.MSTICPY_CLI_TENANT_FIX says why)."""
    names = [r.tenant.name for r in renders if msticpy_cli_needs_tenant_fix(r.tenant)]
    if names:
        print(
            f"note: tenants {', '.join(names)}: Azure.tenant_id is rendered and cli is among the "
            f"auth methods: the compute instances need msticpy {MSTICPY_CLI_TENANT_FIX} or later "
            "(earlier ones pass the tenant to AzureCliCredential, which fails where az is signed "
            "in with the instance's managed identity: microsoft/msticpy#842)"
        )
