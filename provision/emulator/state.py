"""The emulator's world: every service's backend, its bearer token, and its snapshot on disk.

The snapshot is STATE_DIR/state.json (file contents base64-encoded inside), written atomically
(`provision.fsutil.write_atomic`) whenever something changed, at most every `SAVE_INTERVAL_S`,
and on stop. A new emulator on the same folder loads it, so the world survives restarts.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from provision.emulator.arm.models import ArmBackend
from provision.emulator.auth import new_token, tokens_equal
from provision.emulator.authz.models import AuthzBackend
from provision.emulator.files.models import FilesBackend
from provision.emulator.identity.models import (
    ANY_TENANT,
    OPERATOR_OBJECT_ID,
    IdentityBackend,
    Principal,
)
from provision.emulator.keyvault.models import KeyVaultBackend
from provision.emulator.policy.models import PolicyBackend
from provision.errors import Problem, UserInputError
from provision.fsutil import write_atomic

__all__ = ["SNAPSHOT_NAME", "Backend"]

SNAPSHOT_NAME = "state.json"
SNAPSHOT_VERSION = 1
SAVE_INTERVAL_S = 0.5


class Backend:
    """All state models of one emulator. Hold `lock` while reading or changing them."""

    def __init__(self, token: str | None = None) -> None:
        self.lock = threading.RLock()
        self.token = token or new_token()
        self.keyvault = KeyVaultBackend()
        self.files = FilesBackend()
        self.arm = ArmBackend()
        self.identity = IdentityBackend()
        self.authz = AuthzBackend()
        self.policy = PolicyBackend()
        self._saved_revision = -1

    @property
    def revision(self) -> int:
        return (
            self.keyvault.revision
            + self.files.revision
            + self.arm.revision
            + self.identity.revision
            + self.authz.revision
            + self.policy.revision
        )

    def principal(self, token: str) -> Principal | None:
        """Who a bearer token speaks for: the operator for the static token, the signed
        principal for a token from the emulator's authority, None for anything else."""
        if tokens_equal(token, self.token):
            return Principal(ANY_TENANT, OPERATOR_OBJECT_ID, "msticpy-provision-emulator")
        return self.identity.verify(token)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "token": self.token,
            "keyvault": self.keyvault.to_dict(),
            "files": self.files.to_dict(),
            "arm": self.arm.to_dict(),
            "identity": self.identity.to_dict(),
            "authz": self.authz.to_dict(),
            "policy": self.policy.to_dict(),
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported emulator state version {data.get('version')!r}")
        self.token = data["token"]
        self.keyvault.load_dict(data.get("keyvault", {}))
        self.files.load_dict(data.get("files", {}))
        self.arm.load_dict(data.get("arm", {}))
        self.identity.load_dict(data.get("identity", {}))
        self.authz.load_dict(data.get("authz", {}))
        self.policy.load_dict(data.get("policy", {}))

    @classmethod
    def load(cls, state_dir: Path) -> Backend:
        """The backend saved in state_dir, or a new empty one."""
        backend = cls()
        path = state_dir / SNAPSHOT_NAME
        if path.exists():
            try:
                backend.load_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UserInputError(
                    [
                        Problem(
                            f"not a readable emulator state ({exc}); use another --state-dir "
                            "or remove the file to start from an empty world",
                            file=str(path),
                        )
                    ]
                ) from None
        backend._saved_revision = backend.revision
        return backend

    def save(self, state_dir: Path, *, force: bool = False) -> bool:
        """Write the snapshot if anything changed since the last save; True when written."""
        with self.lock:
            revision = self.revision
            if not force and revision == self._saved_revision:
                return False
            text = json.dumps(self.to_dict(), separators=(",", ":"))
        # The snapshot holds secret values and account keys: owner-only, like ca-key.pem.
        write_atomic(state_dir / SNAPSHOT_NAME, text.encode("utf-8"), mode=0o600)
        self._saved_revision = revision
        return True
