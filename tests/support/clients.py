"""The SDK clients every suite points at an emulator: provision.devtools.clients, where the
developer tooling (the throughput benchmark) finds them too."""

from provision.devtools.clients import (
    FAST,
    emulator_credential,
    endpoints_of,
    fast_storage_retry,
    ml_client,
    secret_client,
    share_client,
)

__all__ = [
    "FAST",
    "emulator_credential",
    "endpoints_of",
    "fast_storage_retry",
    "ml_client",
    "secret_client",
    "share_client",
]
