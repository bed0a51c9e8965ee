"""plan -> apply -> verify for a fleet.

Tenants run concurrently and independently, each on its own thread with its own `TenantRun`
(provision.tenant.context); one failing tenant never stops the others. What one tenant's plan,
apply and verify do is provision.tenant.steps'.
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

from provision.errors import LockHeld, TenantError
from provision.fanout import Fanout
from provision.plan import DesiredState, TenantResult
from provision.render import TenantRender
from provision.secrets import SecretValue
from provision.tenant.context import RunSettings, TenantRun
from provision.tenant.steps import apply_tenant, plan_tenant, verify_tenant
from provision.workspace import explain_azure_error

if TYPE_CHECKING:
    from provision.azure import Clients

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
Step = Callable[[TenantRun, str], TenantResult]  # one tenant's step, given the lock holder


class Mode(str, Enum):
    PLAN = "plan"
    APPLY = "apply"
    VERIFY = "verify"
    ROTATE = "rotate"  # with its own step (provision.commands.rotate)

    def __str__(self) -> str:
        return self.value


def lock_holder() -> str:
    """Who holds a tenant's lock, as other runs will see it."""
    holder = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    run_id = os.environ.get("GITHUB_RUN_ID")
    return f"{holder} (GitHub run {run_id})" if run_id else holder


def masked(text: str, values: dict[str, SecretValue]) -> str:
    """`text` with every secret value of the tenant replaced (an exception's message is shown)."""
    for value in values.values():
        revealed = value.reveal()
        if revealed and len(revealed) >= 4:
            text = text.replace(revealed, "***")
    return text


class Engine:
    """Runs plan / apply / verify over many tenants with shared clients."""

    def __init__(
        self,
        clients: Clients,
        settings: RunSettings | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.clients = clients
        self.settings = settings or RunSettings()
        self.progress: Progress = progress or (lambda tenant, step: None)
        self.pool = ThreadPoolExecutor(
            max_workers=max(4, clients.max_concurrency * 2), thread_name_prefix="item"
        )
        self.holder = lock_holder()

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def run(
        self,
        mode: Mode | str,
        renders: list[TenantRender],
        values: dict[str, SecretValue],
        keep_clients: bool = False,
        step: Step | None = None,
    ) -> list[TenantResult]:
        """Tenants run concurrently; results keep input order.

        A tenant's SDK clients and credential are released when its step ends, so memory is
        bounded by the tenants in flight; `keep_clients` keeps them (and the tokens their
        pipelines hold) for a further step of the same run, as onboard's apply after its plan.
        `step` runs instead of the mode's own (rotate: provision.commands.rotate), given the
        lock holder this run names.
        """
        if step is not None:
            holder = self.holder
            run_step: Callable[[TenantRun], TenantResult] = lambda run: step(run, holder)  # noqa: E731
        else:
            run_step = {
                Mode.PLAN: plan_tenant,
                Mode.APPLY: lambda run: apply_tenant(run, self.holder),
                Mode.VERIFY: verify_tenant,
            }[Mode(mode)]
        workers = max(1, min(len(renders), self.clients.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant") as tenants:
            futures = [
                tenants.submit(self._guard, run_step, r, values, keep_clients) for r in renders
            ]
            return [f.result() for f in futures]

    def _guard(
        self,
        step: Callable[[TenantRun], TenantResult],
        r: TenantRender,
        values: dict[str, SecretValue],
        keep_clients: bool,
    ) -> TenantResult:
        # (plan --no-secret-values resolves no value: the secrets are judged by metadata)
        desired = DesiredState(
            r, {p.source: values[p.source] for p in r.pushes if p.source in values}
        )
        run = TenantRun(self.clients, Fanout(self.pool), desired, self.settings, self.progress)
        name = r.tenant.name
        try:
            result = step(run)
        except LockHeld as exc:
            result = TenantResult.failed(name, f"not applied: {exc}")
        except TenantError as exc:
            result = TenantResult.failed(name, masked(str(exc), desired.values))
        except Exception as exc:  # a tenant's failure must not stop the fleet
            log.debug("tenant %s failed", name, exc_info=True)
            line = explain_azure_error(
                exc, r.tenant, f"tenant {name}", "check the identity's roles"
            )
            result = TenantResult.failed(name, masked(line, desired.values))
        finally:
            if not keep_clients:
                self.clients.release(r.tenant)  # memory bounded by the tenants in flight
        self.progress(name, "failed: " + result.error if result.error else "done")
        return result
