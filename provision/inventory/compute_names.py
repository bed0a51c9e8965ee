"""Compute instance names: Azure ML's naming rules, and a default that cannot collide.

Azure ML (Microsoft Learn, "Create a compute instance", Compute name): a name is 3-24
characters of letters, digits and `-`, starts with a letter, and "needs to be unique across
all existing computes within an Azure region" - across every subscription and customer, not
only this workspace; if `-` is used, it "needs to be followed by at least one letter later in
the name". So `<alias>-ci` collides as soon as one analyst works for two customers in one
region. The default here adds a short hash of where the instance lives (tenant, subscription,
resource group, workspace) and of the alias: stable across runs, different per tenant.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from provision.errors import Problem
from provision.inventory.shared_workspaces import same_user_folder
from provision.yamlsource import YamlDocument

MIN_LEN = 3
MAX_LEN = 24
HASH_LEN = 6
_ALLOWED = re.compile(r"[A-Za-z0-9-]*")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ALPHANUM = _LETTERS + "0123456789"


def compute_name_problems(name: str) -> list[str]:
    """Every Azure ML naming rule `name` breaks (empty when it is a valid compute name)."""
    out: list[str] = []
    if not MIN_LEN <= len(name) <= MAX_LEN:
        out.append(f"{MIN_LEN}-{MAX_LEN} characters (has {len(name)})")
    if not _ALLOWED.fullmatch(name):
        bad = sorted({ch for ch in name if not re.fullmatch(r"[A-Za-z0-9-]", ch)})
        shown = " ".join(repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}" for ch in bad)
        out.append(f"only letters, digits and '-' (found {shown})")
    if name and not (name[0].isascii() and name[0].isalpha()):
        out.append("must start with a letter")
    if "-" in name and not any(ch.isascii() and ch.isalpha() for ch in name[name.rindex("-") :]):
        out.append("a '-' must be followed by a letter later in the name")
    return out


def check_compute_name(value: str) -> str:
    """Pydantic validator: one message listing every rule the name breaks."""
    problems = compute_name_problems(value)
    if problems:
        raise PydanticCustomError(
            "compute_name",
            "invalid compute instance name: {detail} (Azure ML: 3-24 letters, digits, '-'; "
            "a letter first; a '-' followed by a letter later)",
            {"detail": "; ".join(problems)},
        )
    return value


def _hash_tag(*parts: str) -> str:
    """HASH_LEN characters, a letter first (so the '-' before it is followed by a letter)."""
    digest = int.from_bytes(hashlib.sha256("/".join(parts).encode("utf-8")).digest(), "big")
    chars = [_LETTERS[digest % 26]]
    digest //= 26
    for _ in range(HASH_LEN - 1):
        chars.append(_ALPHANUM[digest % 36])
        digest //= 36
    return "".join(chars)


def default_compute_name(
    alias: str, tenant_id: str, subscription_id: str, resource_group: str, workspace: str
) -> str:
    """`alice.smith` in one tenant -> `alice-smith-k3f9x2`; the same alias elsewhere differs.

    Azure resource names compare case-insensitively, so the hash input is lower-cased.
    """
    tag = _hash_tag(
        *(p.lower() for p in (tenant_id, subscription_id, resource_group, workspace, alias))
    )
    base = re.sub(r"[^a-z0-9]+", "-", alias.lower()).strip("-") or "user"
    if not base[0].isalpha():
        base = "u" + base
    base = base[: MAX_LEN - HASH_LEN - 1].rstrip("-")
    return f"{base}-{tag}"


def fill_default_compute_names(tenant: Any) -> Any:
    """Raw tenant mapping with `compute` set for every user that has none (before validation).

    Runs on the raw mapping because the default depends on the tenant's coordinates; values
    that are not strings are left for the model to report.
    """
    if not isinstance(tenant, dict) or not isinstance(tenant.get("users"), list):
        return tenant
    raw = [
        tenant.get(k) for k in ("tenant_id", "subscription_id", "resource_group", "ml_workspace")
    ]
    coords = [c for c in raw if isinstance(c, str)]
    if len(coords) != len(raw):
        return tenant  # the model reports the missing or mistyped coordinates
    users = []
    for user in tenant["users"]:
        entry = {"alias": user} if isinstance(user, str) else user
        if isinstance(entry, dict) and entry.get("compute") is None:
            alias = entry.get("alias")
            if isinstance(alias, str) and alias:
                entry = {**entry, "compute": default_compute_name(alias, *coords)}
        users.append(entry)
    return {**tenant, "users": users}


def fleet_compute_name_problems(tenants: list[Any], path: Path, doc: YamlDocument) -> list[Problem]:
    """Two users of the inventory must not claim one compute name (Azure: one per region).

    The region of each workspace is only known from ARM, so any two equal names (compared
    case-insensitively, as Azure compares resource names) are refused here, naming both lines.
    """
    first: dict[str, tuple[int, int]] = {}
    problems: list[Problem] = []
    for ti, t in enumerate(tenants):
        for ui, user in enumerate([] if t.absent else t.user_list):
            key = user.compute_name.lower()
            if key not in first:
                first[key] = (ti, ui)
                continue
            oti, oui = first[key]
            if oti == ti:
                continue  # reported by the tenant's own rules
            if same_user_folder(tenants[oti], tenants[oti].user_list[oui], t, user):
                continue  # one user folder claimed twice: reported as that (shared_workspaces)
            other = f"tenants[{oti}].users[{oui}]"
            problems.append(
                Problem(
                    f"compute instance name {user.compute_name!r} is also used by {other} "
                    f"(line {doc.line_of(('tenants', oti, 'users', oui))}); compute names are "
                    "unique per Azure region: set compute: for one of them",
                    file=str(path),
                    line=doc.line_of(("tenants", ti, "users", ui)),
                    path=f"tenants[{ti}].users[{ui}]",
                )
            )
    return problems
