"""`discover`: build a tenant entry from what Azure holds (provision.adopt.discover), then write
it as `import` does: everything read and checked first, the whole resulting inventory validated,
secret files (with --secrets-dir) and the inventory written last, each atomically; nothing
written on any failure. It only reads Azure. Secret values go only into 0600 files inside the
inventory's folder; never printed, logged or put in the inventory.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provision.adopt.discover_combine import NO_PER_USER, keep_pushed_sources, keep_unchanged
from provision.adopt.inventory_edit import IMPORTED_KEYS, dump_entry, existing_tenant, put_tenant
from provision.commands.import_config import (
    ImportOptions,
    Reference,
    _existed,
    _reference_maker,
    _secret_files,
    _tell,
    write_out,
)
from provision.errors import Problem, TenantError, UserInputError
from provision.inventory.fields import Guid
from provision.inventory.load import load_inventory_text
from provision.inventory.model import Tenant
from provision.msticpy_contract.secret_names import secret_pushes
from provision.msticpy_contract.settings import build_config_json, build_msticpyconfig
from provision.yamlsource import load_yaml_text, read_text_bounded

if TYPE_CHECKING:
    from provision.adopt.discover_combine import Discovered

# discover also owns where the tenant lives and who its analysts are
DISCOVERED_KEYS = (*IMPORTED_KEYS, "ml_workspace", "users")


@dataclass(kw_only=True)
class DiscoverOptions(ImportOptions):
    """The flags of `invoke discover` (`import`'s, where they mean the same)."""

    tenant_id: str | None = None
    subscription_ids: list[str] = field(default_factory=list)
    max_concurrency: int = 8


def run(opts: DiscoverOptions) -> int:
    """Discover tenant OPTS.tenant: print the entry or write it into the inventory."""
    inv_path = Path(opts.inventory) if opts.inventory else None
    base_dir = inv_path.parent if inv_path else Path.cwd()
    inv_text = read_text_bounded(inv_path, "inventory") if inv_path else None
    old: Tenant | None = None
    if inv_path is not None and inv_text is not None:
        load_yaml_text(inv_text, str(inv_path))  # bounds and syntax before ruamel sees it
        if _existed(inv_text, opts):
            if not opts.replace:
                raise UserInputError(
                    [
                        Problem(
                            f"tenant {opts.tenant!r} is already in the inventory; add --replace "
                            "to replace it with what discover finds",
                            file=str(inv_path),
                        )
                    ]
                )
            old = load_inventory_text(inv_text, inv_path).select([opts.tenant])[0]
            _where_it_was(opts, old)
    _check(opts)
    reference = _reference_maker(opts, base_dir)
    found = _discover(opts, reference)
    files = _secret_files(opts, "discovered configs", base_dir, found.plaintext, reference)
    entry = found.entry
    if old is not None and inv_path is not None and inv_text is not None:
        entry, kept = keep_pushed_sources(entry, old)
        if kept:
            found.report.append(
                f"kept {kept} secret source(s) of the inventory for secrets it pushes under the "
                "names the configs reference"
            )
        raw = existing_tenant(inv_text, opts.tenant) or {}
        outcome = functools.partial(_outcome, inv_text, inv_path, opts.tenant)
        entry = keep_unchanged(raw, entry, DISCOVERED_KEYS[:-1], outcome, found.report)
    if inv_path is not None and inv_text is not None:
        new_text = put_tenant(inv_text, entry, str(inv_path), opts.replace, DISCOVERED_KEYS)
        load_inventory_text(new_text, inv_path)  # what validate would say, before writing
    else:
        new_text = None
        load_inventory_text(f"version: 1\ntenants:\n{dump_entry(entry)}", base_dir / "-")
    write_out(opts, files, inv_path, inv_text, new_text, entry)
    for line in found.report:
        print(line, file=sys.stderr)
    if found.differences:
        print(f"per-analyst differences ({NO_PER_USER}):", file=sys.stderr)
        for line in found.differences:
            print(f"  {line}", file=sys.stderr)
    _tell(found.plaintext, reference, files)
    return 0


def _outcome(inv_text: str, inv_path: Path, name: str, entry: dict[str, Any]) -> Any:
    """What the tenant renders and pushes with `entry` in the inventory (defaults merged)."""
    text = put_tenant(inv_text, entry, str(inv_path), True, DISCOVERED_KEYS)
    t = load_inventory_text(text, inv_path).select([name])[0]
    pushes = [(p.vault, p.name, p.source) for p in secret_pushes(t)]
    return build_msticpyconfig(t), build_config_json(t), pushes


def _where_it_was(opts: DiscoverOptions, old: Tenant) -> None:
    """Flags not given come from the tenant being replaced (as `import --replace` does): its
    Entra tenant, its workspace's name and subscription."""
    opts.tenant_id = opts.tenant_id or old.tenant_id
    opts.ml_workspace = opts.ml_workspace or old.ml_workspace
    opts.subscription_ids = opts.subscription_ids or [old.subscription_id]


def _check(opts: DiscoverOptions) -> None:
    from pydantic import TypeAdapter, ValidationError

    problems: list[str] = []
    guid: TypeAdapter[str] = TypeAdapter(Guid)
    if not opts.tenant_id:
        problems.append("give --tenant-id (the tenant's Entra tenant id)")
    if not opts.subscription_ids:
        problems.append("give --subscription-id (repeatable) to say where to look")
    for flag, values in (
        ("--tenant-id", [opts.tenant_id] if opts.tenant_id else []),
        ("--subscription-id", opts.subscription_ids),
    ):
        for value in values:
            try:
                guid.validate_python(value)
            except ValidationError:
                problems.append(f"{flag} {value!r}: not a GUID")
    if problems:
        raise UserInputError(problems)


def _discover(opts: DiscoverOptions, reference: Reference) -> Discovered:
    """Read the estate (real Azure, --endpoints or --local) and combine it into an entry."""
    from provision.adopt.discover import read_estate
    from provision.adopt.discover_combine import combine
    from provision.azure import Clients
    from provision.commands.common import endpoints_for
    from provision.inventory.model import Inventory
    from provision.options import RunOptions

    assert opts.tenant_id is not None  # _check
    run_opts = RunOptions(
        inventory=opts.inventory or "-",
        local=opts.local,
        endpoints=opts.endpoints,
        auth=opts.auth,
        allow_unencrypted_cache=opts.allow_unencrypted_cache,
    )
    none = Inventory.model_construct(path=Path("-"), version=1, tenants=[])
    with endpoints_for(run_opts, none) as ep:
        clients = Clients(opts.max_concurrency, ep, run_opts.sign_in())
        try:
            estate = read_estate(
                clients,
                opts.tenant,
                opts.tenant_id,
                list(dict.fromkeys(opts.subscription_ids)),
                resource_group=opts.resource_group,
                ml_workspace=opts.ml_workspace,
                width=opts.max_concurrency,
            )
        except TenantError as exc:
            raise UserInputError([f"tenant {opts.tenant}: {exc}"]) from None
        finally:
            clients.close()
    return combine(estate, opts.tenant, opts.tenant_id, reference)
