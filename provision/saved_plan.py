"""A plan bound to what it read: `plan --out FILE`, `apply --plan FILE`, and the plan an
interactive apply shows before it asks.

A tenant's plan carries a seal: for each part of what the plan read and decided (`SEAL_PARTS`),
a keyed digest (HMAC-SHA256). Apply reads the tenant again under its lock, seals what it read
the same way, and writes only when every part is the same: the world, the inventory and the
changes are those of the plan, so apply makes exactly the plan's changes, and otherwise refuses
the tenant in one line naming what changed (provision.tenant.steps).

The digests are keyed so that none can be used to guess a secret value (they cover the values
the inventory's sources resolve to, and what Key Vault holds). The key:

* for a saved plan, the user's plan key: 32 random bytes in a file only its owner may read,
  outside the repository (`key_path()`: `$MSTICPY_PROVISION_PLAN_KEY`, else
  `~/.config/msticpy-provision/plan.key`, made on the first `plan --out`). The file is sealed
  with the same key as a whole, so an edited file, or one saved with another key, is refused;
* for an interactive apply, a key made for the run and never written anywhere.

A saved plan holds the inventory's path, the flags that shape a plan, each tenant's changes as
the JSON plan shows them, and the digests: no secret value, and no digest of one without the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provision.errors import Problem, UserInputError
from provision.options import RunOptions
from provision.plan import Kind

if TYPE_CHECKING:
    from provision.plan import TenantResult
    from provision.tenant.context import TenantRun
    from provision.tenant.read import Observation

FORMAT = "msticpy-provision saved plan"
VERSION = 1
KEY_ENV = "MSTICPY_PROVISION_PLAN_KEY"

# part of a seal -> what changed when it differs (as the refusal names it)
SEAL_PARTS = {
    "inventory": "the rendered files or the secret values (inventory, templates or secret sources)",
    "secrets": "the Key Vault secrets",
    "files": "the user files on the share",
    "record": "the tool's record",
    "computes": "the compute instances",
    "access": "the analysts' vault access",
    "changes": "the planned changes",
}

# The flags that shape a plan: a saved plan keeps them, and apply --plan runs with them.
PLAN_FLAGS = (
    "tenant",
    "templates",
    "storage_auth",
    "require_access",
    "grant_access",
    "prune",
    "prune_max",
    "delete_computes",
    "allow_permanent_delete",
)

Seal = Mapping[str, str]


class SealKey:
    """A key for the plan's digests; never shown (its repr hides it)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_this_run(cls) -> SealKey:
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:
        return "SealKey(***)"

    def digest(self, *parts: object) -> str:
        text = json.dumps(parts, sort_keys=True, default=_plain, separators=(",", ":"))
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    @property
    def key_id(self) -> str:
        """Names the key in a saved plan (a digest of a constant: says nothing of the key)."""
        return self.digest("plan key id")[:16]


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    return repr(value)


def seal_of(run: TenantRun, obs: Observation) -> dict[str, str]:
    """The seal of one read of a tenant (`SEAL_PARTS`), with the run's key."""
    key = run.settings.seal_key
    assert key is not None  # only called when the run seals its plans
    d = run.desired
    items = obs.plan.items

    def of(*kinds: Kind) -> list[tuple[str, str, str, str]]:
        return [(c.target, str(c.action), c.detail, c.seen) for c in items if c.kind in kinds]

    return {
        "inventory": key.digest(
            sorted((path, f.content) for path, f in d.files.items()),
            sorted((source, v.reveal()) for source, v in d.values.items()),
            [(p.vault, p.name, p.source) for p in d.render.pushes],
        ),
        "secrets": key.digest(of(Kind.SECRET)),
        "files": key.digest(
            of(Kind.FILE, Kind.CLEANUP),
            sorted((p, e or "") for p, e in obs.files.remote_etags.items()),
        ),
        "record": key.digest(obs.record.manifest.to_json()),
        "computes": key.digest(of(Kind.COMPUTE), sorted(repr(c) for c in obs.ws.computes.items())),
        "access": key.digest(of(Kind.ACCESS)),
        "changes": key.digest([c.as_dict() for c in obs.plan.changes]),
    }


def stale_parts(expected: Seal, found: Seal) -> list[str]:
    """What differs between the plan's seal and a new read's, in words."""
    return [words for part, words in SEAL_PARTS.items() if expected.get(part) != found.get(part)]


# --- the user's plan key -------------------------------------------------------------------------


def key_path() -> Path:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "msticpy-provision" / "plan.key"


def user_key(create: bool) -> SealKey:
    """The user's plan key (made, readable by its owner only, when `create` and missing)."""
    from provision.fsutil import write_atomic

    path = key_path()
    if not path.exists():
        if not create:
            raise UserInputError(
                [
                    f"no plan key at {path}: apply a plan where it was saved, or set {KEY_ENV} "
                    "to the key file it was saved with"
                ]
            )
        write_atomic(path, secrets.token_hex(32).encode() + b"\n", mode=0o600)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UserInputError(
            [f"{path}: the plan key is readable by others (mode {mode:o}): chmod 600 {path}"]
        )
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    if len(key) < 32:
        raise UserInputError([f"{path}: not a plan key (64 hex digits); remove it to make one"])
    return SealKey(key)


# --- the saved plan ------------------------------------------------------------------------------


def _inventory_digest(key: SealKey, inventory: str) -> str:
    return key.digest("inventory file", Path(inventory).read_bytes())


def save(path: Path, opts: RunOptions, results: list[TenantResult], key: SealKey) -> None:
    """Write the plan of `results` (every tenant planned without error) to `path`."""
    from provision.fsutil import write_atomic

    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "key_id": key.key_id,
        "inventory": str(Path(opts.inventory).resolve()),
        "inventory_digest": _inventory_digest(key, opts.inventory),
        "flags": {name: _json_flag(getattr(opts, name)) for name in PLAN_FLAGS},
        "tenants": [
            {
                "tenant": r.tenant,
                "changes": [c.as_dict() for c in r.changes],
                "seal": dict(r.plan.seal),
            }
            for r in results
        ],
    }
    doc["file_digest"] = key.digest("plan file", doc)
    write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode(), mode=0o644)


def _json_flag(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@dataclasses.dataclass(frozen=True)
class SavedPlan:
    """A saved plan read back and authenticated with the user's key."""

    path: Path
    inventory: str
    inventory_digest: str
    flags: Mapping[str, Any]
    seals: Mapping[str, Seal]  # tenant -> seal

    @classmethod
    def load(cls, path: Path, key: SealKey) -> SavedPlan:
        def refuse(why: str) -> UserInputError:
            return UserInputError([Problem(why, file=str(path))])

        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise refuse("no such saved plan") from None
        except (OSError, ValueError) as exc:
            raise refuse(f"not a saved plan ({type(exc).__name__})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise refuse("not a saved plan (save one with plan --out)")
        if doc.get("version") != VERSION:
            raise refuse(f"saved plan version {doc.get('version')!r}: this tool reads {VERSION}")
        if doc.get("key_id") != key.key_id:
            raise refuse(
                f"saved with another plan key than {key_path()} (another user or machine?): "
                "plan again with --out here"
            )
        claimed = doc.pop("file_digest", None)
        if not isinstance(claimed, str) or not hmac.compare_digest(
            claimed, key.digest("plan file", doc)
        ):
            raise refuse("edited since it was saved: plan again with --out")
        return cls(
            path=path,
            inventory=str(doc["inventory"]),
            inventory_digest=str(doc["inventory_digest"]),
            flags=dict(doc["flags"]),
            seals={str(t["tenant"]): dict(t["seal"]) for t in doc["tenants"]},
        )

    def options(self, given: RunOptions, key: SealKey) -> RunOptions:
        """The run's options: the plan's flags over the command line's, which may not set a
        plan-shaping flag to something else; refused when the inventory changed since."""
        defaults = RunOptions(inventory=given.inventory)
        problems = []
        for name in PLAN_FLAGS:
            mine, saved = getattr(given, name), self.flags[name]
            if mine != getattr(defaults, name) and _json_flag(mine) != saved:
                flag = "--" + name.replace("_", "-")
                problems.append(
                    Problem(
                        f"{flag}: the saved plan was made with {saved!r}; leave it out "
                        "(apply --plan takes the plan's flags)",
                        file=str(self.path),
                    )
                )
        if Path(given.inventory).resolve() != Path(self.inventory):
            problems.append(
                Problem(
                    f"made for the inventory {self.inventory}, not {given.inventory}",
                    file=str(self.path),
                )
            )
        elif not hmac.compare_digest(
            self.inventory_digest, _inventory_digest(key, given.inventory)
        ):
            problems.append(
                Problem(
                    f"the inventory {given.inventory} changed since the plan was saved: "
                    "plan again with --out",
                    file=str(self.path),
                )
            )
        if problems:
            raise UserInputError(problems)
        flags = {name: self.flags[name] for name in PLAN_FLAGS}
        flags["tenant"] = tuple(flags["tenant"])
        return dataclasses.replace(given, **flags)
