"""Helpers of the emulator's tests: the seeded tenant and official SDK clients pointed at an
emulator (importable as `emulator_helpers`; the fixtures are in conftest.py)."""

from __future__ import annotations

import itertools
from typing import Any

from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.storage.fileshare import ExponentialRetry, ShareClient

from provision.emulator import Emulator, SeedTenant
from provision.emulator.seed import NOTEBOOK_SHARE

TENANT = SeedTenant(
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    subscription_id="3a9d0c4e-5f61-4b7a-8c2d-9e0f1a2b3c4d",
    resource_group="rg-soc",
    workspace="ws-soc",
    key_vault="kv-soc-team",
    users=[("alice", "ci-alice"), ("bob", "ci-bob")],
)
FAST = {"retry_backoff_factor": 0.01}

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test uses (the session emulator is shared)."""
    return f"{prefix}-{next(_counter)}"


def secret_client(emu: Emulator, vault: str = "kv-soc-team", **kwargs: Any) -> SecretClient:
    return SecretClient(
        vault_url=emu.endpoints["keyvault"].format(vault=vault),
        credential=emu.credential,
        verify_challenge_resource=False,
        connection_verify=str(emu.ca_cert),
        **{**FAST, **kwargs},
    )


def fast_storage_retry() -> ExponentialRetry:
    """The storage SDK's own retry policy (it ignores retry_backoff_factor), without its 15 s
    first back-off."""
    return ExponentialRetry(initial_backoff=0, increment_base=0, random_jitter_range=0)


def share_client(
    emu: Emulator, account: str, credential: Any, share: str = NOTEBOOK_SHARE, **kwargs: Any
) -> ShareClient:
    return ShareClient(
        account_url=emu.endpoints["files"].format(account=account),
        share_name=share,
        credential=credential,
        connection_verify=str(emu.ca_cert),
        **{"retry_policy": fast_storage_retry(), **kwargs},
    )


def ml_client(
    emu: Emulator, subscription_id: str = TENANT.subscription_id, **kwargs: Any
) -> MachineLearningServicesMgmtClient:
    return MachineLearningServicesMgmtClient(
        emu.credential,
        subscription_id,
        base_url=emu.endpoints["arm"],
        connection_verify=str(emu.ca_cert),
        **{**FAST, **kwargs},
    )


def log_since(emu: Emulator, mark: int) -> list[dict[str, Any]]:
    """Request-log lines written after `mark` (= len(emu.requests()) taken earlier)."""
    return emu.requests()[mark:]
