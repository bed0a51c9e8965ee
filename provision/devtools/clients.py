"""The official SDK clients pointed at an emulator: the one set of factories every suite uses.

`target` is a running in-process `Emulator` or the endpoints document of one (endpoints.json, or
`Emulator.endpoints`) - the emulator of another process is known by its file only. Retries are
fast: the SDKs' own back-offs (the storage SDK's first is 15 s) would make fault tests slow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.keyvault.secrets import SecretClient
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.storage.fileshare import ExponentialRetry, ShareClient

from provision.emulator import Emulator, EmulatorCredential
from provision.emulator.seed import NOTEBOOK_SHARE

__all__ = [
    "FAST",
    "emulator_credential",
    "endpoints_of",
    "fast_storage_retry",
    "ml_client",
    "secret_client",
    "share_client",
]

FAST = {"retry_backoff_factor": 0.01}


def endpoints_of(target: Emulator | Mapping[str, Any]) -> Mapping[str, Any]:
    return target.endpoints if isinstance(target, Emulator) else target


def emulator_credential(target: Emulator | Mapping[str, Any] | str) -> EmulatorCredential:
    """The emulator's bearer-token credential (from an emulator, its endpoints, or a token)."""
    if isinstance(target, Emulator):
        return target.credential
    token = target if isinstance(target, str) else target["token"]
    return EmulatorCredential(str(token))


def fast_storage_retry() -> ExponentialRetry:
    """The storage SDK's own retry policy (it ignores retry_backoff_factor), without its 15 s
    first back-off."""
    return ExponentialRetry(initial_backoff=0, increment_base=0, random_jitter_range=0)


def secret_client(
    target: Emulator | Mapping[str, Any], vault: str, credential: Any = None, **kwargs: Any
) -> SecretClient:
    ep = endpoints_of(target)
    return SecretClient(
        vault_url=ep["keyvault"].format(vault=vault),
        credential=credential or emulator_credential(target),
        verify_challenge_resource=False,
        connection_verify=str(ep["ca_cert"]),
        **{**FAST, **kwargs},
    )


def share_client(
    target: Emulator | Mapping[str, Any],
    account: str,
    credential: Any = None,
    share: str = NOTEBOOK_SHARE,
    **kwargs: Any,
) -> ShareClient:
    """A share of `account`; the credential defaults to the account's key."""
    ep = endpoints_of(target)
    return ShareClient(
        account_url=ep["files"].format(account=account),
        share_name=share,
        credential=credential or ep["storage_keys"][account],
        connection_verify=str(ep["ca_cert"]),
        **{"retry_policy": fast_storage_retry(), **kwargs},
    )


def ml_client(
    target: Emulator | Mapping[str, Any],
    subscription_id: str,
    credential: Any = None,
    **kwargs: Any,
) -> MachineLearningServicesMgmtClient:
    ep = endpoints_of(target)
    return MachineLearningServicesMgmtClient(
        credential or emulator_credential(target),
        subscription_id,
        base_url=ep["arm"],
        connection_verify=str(ep["ca_cert"]),
        **{**FAST, **kwargs},
    )
