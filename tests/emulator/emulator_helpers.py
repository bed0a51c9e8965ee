"""Helpers of the emulator's tests: the seeded tenant, unique names and the request log
(importable as `emulator_helpers`; the fixtures are in conftest.py, the SDK clients in
`support.clients`)."""

from __future__ import annotations

import itertools
from typing import Any

from provision.emulator import Emulator, SeedTenant

TENANT = SeedTenant(
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    subscription_id="3a9d0c4e-5f61-4b7a-8c2d-9e0f1a2b3c4d",
    resource_group="rg-soc",
    workspace="ws-soc",
    key_vault="kv-soc-team",
    users=[("alice", "ci-alice"), ("bob", "ci-bob")],
)
_counter = itertools.count()


# Client kwargs for tests that expect a failure: retry quickly.
FAST = {"retry_backoff_factor": 0.01}


def unique(prefix: str) -> str:
    """A name no other test uses (the session emulator is shared)."""
    return f"{prefix}-{next(_counter)}"


def log_since(emu: Emulator, mark: int) -> list[dict[str, Any]]:
    """Request-log lines written after `mark` (= len(emu.requests()) taken earlier)."""
    return emu.requests()[mark:]
