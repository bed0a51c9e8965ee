"""plan -> apply -> verify for a fleet.

Reading the world and changing it are separate steps. `plan_tenant` only reads
(provision.observe). `apply_tenant` plans, trusting what the last apply recorded as checked
(Sentinel workspaces, the vault listing behind the orphan report); when nothing differs it stops
there (no lock, no write); otherwise it takes the tenant's lock, plans again under the lock
(listing the vaults), executes (provision.execute), verifies by reading back, and records the
manifest. Tenants run concurrently and independently: one failing tenant never stops the others.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import TYPE_CHECKING

from provision.access import (
    AccessOptions,
    AccessPlan,
    grant_access,
    plan_access,
    read_back_access,
)
from provision.execute import execute, read_back, record_manifest
from provision.fanout import Fanout
from provision.lock import LockHeld
from provision.observe import ObservedState, observe
from provision.orphans import Lifecycle
from provision.plan import DesiredState, TenantResult
from provision.render import TenantRender
from provision.secrets import SecretValue
from provision.share import WorkspaceShare
from provision.workspace import StorageAuth, TenantError, WorkspaceInfo, explain_azure_error

if TYPE_CHECKING:
    from provision.azure import Clients
    from provision.inventory.model import Inventory

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]


class Mode(str, Enum):
    PLAN = "plan"
    APPLY = "apply"
    VERIFY = "verify"

    def __str__(self) -> str:
        return self.value


def lock_holder() -> str:
    """Who holds a tenant's lock, as other runs will see it."""
    holder = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    run_id = os.environ.get("GITHUB_RUN_ID")
    return f"{holder} (GitHub run {run_id})" if run_id else holder


class Engine:
    """Runs plan / apply / verify over many tenants with shared clients."""

    def __init__(
        self,
        clients: Clients,
        progress: Progress | None = None,
        lock_timeout: float = 0.0,
        storage_auth: StorageAuth = StorageAuth.AUTO,
        inventory: Inventory | None = None,
        access: AccessOptions | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.clients = clients
        self.access = access or AccessOptions()  # --grant-access, --require-access
        self.lifecycle = lifecycle or Lifecycle()  # --prune, --prune-max, --delete-computes
        self.inventory = inventory  # names inventory lines in problems found in Azure
        self.storage_auth = storage_auth
        self.progress: Progress = progress or (lambda tenant, step: None)
        self.lock_timeout = lock_timeout
        self.pool = ThreadPoolExecutor(
            max_workers=max(4, clients.max_concurrency * 2), thread_name_prefix="item"
        )
        self.fan = Fanout(self.pool)
        self.holder = lock_holder()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def run(
        self,
        mode: Mode | str,
        renders: list[TenantRender],
        values: dict[str, SecretValue],
        keep_clients: bool = False,
    ) -> list[TenantResult]:
        """Tenants run concurrently; results keep input order.

        A tenant's SDK clients and credential are released when its step ends, so memory is
        bounded by the tenants in flight; `keep_clients` keeps them (and the tokens their
        pipelines hold) for a further step of the same run, as onboard's apply after its plan.
        """
        step = {
            Mode.PLAN: self.plan_tenant,
            Mode.APPLY: self.apply_tenant,
            Mode.VERIFY: self.verify_tenant,
        }[Mode(mode)]
        workers = max(1, min(len(renders), self.clients.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant") as tenants:
            futures = [tenants.submit(self._guard, step, r, values, keep_clients) for r in renders]
            return [f.result() for f in futures]

    def _guard(
        self,
        step: Callable[[DesiredState], TenantResult],
        r: TenantRender,
        values: dict[str, SecretValue],
        keep_clients: bool,
    ) -> TenantResult:
        desired = DesiredState(r, {p.source: values[p.source] for p in r.pushes})
        name = r.tenant.name
        try:
            result = step(desired)
        except TenantError as exc:
            result = TenantResult(name, error=str(exc))
        except LockHeld as exc:
            result = TenantResult(name, error=f"not applied: {exc}")
        except Exception as exc:  # a tenant's failure must not stop the fleet
            log.debug("tenant %s failed", name, exc_info=True)
            result = TenantResult(
                name,
                error=explain_azure_error(
                    exc, r.tenant, f"tenant {name}", "check the identity's roles"
                ),
            )
        finally:
            if not keep_clients:
                self.clients.release(r.tenant)  # memory bounded by the tenants in flight
        self.progress(name, "failed: " + result.error if result.error else "done")
        return result

    def _observe(
        self,
        d: DesiredState,
        verify: bool,
        ws: WorkspaceInfo | None = None,
        share: WorkspaceShare | None = None,
        access: AccessPlan | None = None,
        trust_manifest: bool = False,
    ) -> tuple[ObservedState, TenantResult]:
        """Read and plan a tenant; `ws`, `share` and `access` reuse what an earlier read found;
        `trust_manifest`: what the last apply recorded as checked is not read again."""
        state, result = observe(
            self.clients,
            self.fan,
            d,
            verify=verify,
            progress=self.progress,
            ws=ws,
            share=share,
            storage_auth=self.storage_auth,
            inventory=self.inventory,
            lifecycle=self.lifecycle,
            trust_manifest=trust_manifest,
        )
        # Analysts' vault access lives in ARM, not under the tenant's lock: the locked re-plan
        # reuses what the first read found instead of reading every role assignment again.
        state.access = access or plan_access(
            self.clients, self.fan, d, state.ws.key_vault_id, self.access
        )
        state.access.add_to(result)
        return state, result

    def plan_tenant(self, d: DesiredState) -> TenantResult:
        return self._observe(d, verify=False)[1]

    def apply_tenant(self, d: DesiredState) -> TenantResult:
        t = d.render.tenant
        # The first read trusts what the last apply checked: a no-op apply reads what it would
        # change and no more. The locked re-plan, before anything is written, lists the vaults.
        state, first = self._observe(d, verify=False, trust_manifest=True)
        if not first.changes:
            first.verified = True
            return first
        self.progress(t.name, "waiting for the tenant lock")
        with state.share.locked(self.holder, self.lock_timeout):
            # plan again, locked (same share object: it knows the folders the lock created)
            state, result = self._observe(
                d, verify=False, ws=state.ws, share=state.share, access=state.access
            )
            if not result.changes:
                result.verified = True
                return result
            self.progress(t.name, f"applying {len(result.changes)} changes")
            result.applied = execute(self.clients, self.fan, d, state)
            access = state.access
            if access is not None:
                result.applied += grant_access(self.clients, self.fan, t, access)
            self.progress(t.name, "verifying")
            result.mismatches = read_back(self.clients, self.fan, d, state)
            if access is not None:
                vault_id = state.ws.key_vault_id
                result.mismatches.update(
                    read_back_access(self.clients, self.fan, d, vault_id, access)
                )
            result.verified = not result.mismatches
            if result.mismatches:
                result.error = "read-back after apply does not match: " + "; ".join(
                    f"{target} ({why})" for target, why in result.mismatches.items()
                )
            record_manifest(d, state, result.mismatches)
        return result

    def verify_tenant(self, d: DesiredState) -> TenantResult:
        """Read back everything (no manifest shortcut); any difference is a failure."""
        _, result = self._observe(d, verify=True)
        result.verified = not result.changes
        if result.changes:
            result.error = f"{len(result.changes)} items differ from the inventory"
        return result
