"""The flags of a run that talks to Azure (plan, apply, verify, onboard), as one value.

`RunOptions` has one field per flag, named as the flag (`--prune-max` -> `prune_max`), takes
keywords only (two `str | None` flags cannot be swapped by position) and checks every value when
it is built: a task builds it before it loads the inventory, starts an emulator or signs in, so
a bad value is one line per problem and exit code 1 with nothing started. Values invoke cannot
even read (`--lock-timeout abc`) are refused by the task's argument parser the same way (see
`provision.tasks`).

This module is imported when `provision.tasks` is (for the defaults the tasks' signatures show),
so it imports nothing heavy at import time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provision.errors import UserInputError

if TYPE_CHECKING:
    from provision.signin import SignIn

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PRUNE_MAX",
    "DEFAULT_WARN_EXPIRY_DAYS",
    "RunOptions",
]

# Azure's published throttling limits (DESIGN.md): Key Vault 4,000 secret transactions per 10 s
# per vault; ARM 250 reads burst + 25/s and 200 writes burst + 10/s per subscription and principal.
# 32 requests in flight across the whole fleet stays far below every one of them (a tenant makes
# at most 3 ARM reads per run) while keeping round trips overlapped.
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_PRUNE_MAX = 50  # orphan secrets in one vault above which --prune refuses to delete
# --warn-expiry: a month's notice, the lead time of a TI subscription's renewal
DEFAULT_WARN_EXPIRY_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The flags of plan, apply, verify and onboard; a task offers the ones it names.

    The engine's settings are the fields themselves (`lock_timeout`, `storage_auth`, ...); see
    `provision.commands.common.engine_session`.
    """

    inventory: str
    tenant: Sequence[str] = ()  # only these tenants (stored as a tuple); empty: every tenant
    local: bool = False
    endpoints: str | None = None
    json: bool = False
    detailed_exitcode: bool = False  # plan: exit 2 when changes are pending
    templates: str | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    storage_auth: str = "auto"  # a provision.workspace.StorageAuth value
    lock_timeout: float = 0.0
    require_access: bool = False  # a missing or unconfirmed analyst vault access fails the tenant
    grant_access: bool = False  # apply grants missing analyst vault access (plan previews it)
    prune: bool = False  # delete orphans (what the tool wrote that the inventory no longer has)
    prune_max: int = DEFAULT_PRUNE_MAX  # refuse to prune a vault with more orphans than this
    delete_computes: bool = False  # delete the compute instances of state: absent tenants
    allow_permanent_delete: bool = False  # prune in vaults without soft delete (no recovery)
    break_lock: bool = False  # apply: break a lease on the tenant's lock this tool did not take
    no_secret_values: bool = False  # plan: read no secret value and no file content
    warn_expiry: float = DEFAULT_WARN_EXPIRY_DAYS  # days: a secret expiring sooner is reported
    out: str | None = None  # plan: also save the plan to this file (provision.saved_plan)
    yes: bool = False  # apply, onboard: do not ask on a terminal
    plan: str | None = None  # apply: apply exactly this saved plan
    auth: str | None = None  # a provision.signin.AuthMode value; None: $MSTICPY_PROVISION_AUTH
    allow_unencrypted_cache: bool = False  # device-code/browser: a 0600 file without secret store
    fresh: bool = False  # --local: forget the local world of this inventory first

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenant", tuple(self.tenant))
        problems = self._problems()
        if problems:
            raise UserInputError(problems)

    def sign_in(self) -> SignIn:
        """The run's sign-in: --auth, else $MSTICPY_PROVISION_AUTH, else `default`."""
        from provision.signin import SignIn

        return SignIn.from_flags(self.auth, self.allow_unencrypted_cache, os.environ)

    def _problems(self) -> list[str]:
        from provision.workspace import StorageAuth

        out: list[str] = []
        if self.local and self.endpoints:
            out.append("--local and --endpoints exclude each other")
        if self.fresh and not self.local:
            out.append("--fresh starts the local emulator's world over: use it with --local")
        if self.max_concurrency < 1:
            out.append(f"--max-concurrency {self.max_concurrency}: use 1 or more")
        if self.prune_max < 0:
            out.append(f"--prune-max {self.prune_max}: use 0 or more")
        if not math.isfinite(self.warn_expiry) or self.warn_expiry < 0:
            out.append(f"--warn-expiry {self.warn_expiry:g}: use 0 or more days")
        if not math.isfinite(self.lock_timeout) or self.lock_timeout < 0:
            out.append(f"--lock-timeout {self.lock_timeout:g}: use 0 or more seconds")
        if self.out is not None and self.no_secret_values:
            out.append("--out: a plan made with --no-secret-values cannot be applied")
        try:  # the mode's own needs (variables, a secret store), before anything starts
            out.extend(self.sign_in().problems((), os.environ, None))
        except UserInputError as exc:
            out.extend(exc.lines())
        choices = [str(a) for a in StorageAuth]
        if self.storage_auth not in choices:
            out.append(f"--storage-auth {self.storage_auth!r}: use one of {', '.join(choices)}")
        return out
