"""Which analysts can use their notebooks, and the steps left for the others.

A pure judge over what a run read: a tenant is `ok` when the tool's run succeeded, but its
analysts are ready only when their files are on the share, they can read the vault, their
compute instance patches the kernels, and SSO is on where the policy wants it. Each missing
piece is a `Step` with the exact command that takes it (or, for an existing instance, the one
line to run in its terminal); the reports print them as "Next steps" and `--json` carries them
under each tenant's `readiness` (docs/plan-output.md).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from provision.compute import SHARE_USERS_MOUNT, script_sha256, sso_step
from provision.plan import CHANGING, Action, Change, Kind, TenantResult
from provision.render import STARTUP_SCRIPT, TenantRender
from provision.share import USERS

CONSOLE = "msticpy-provision"

# The judgements compute_report (provision.compute) makes about an analyst's instance.
_NO_INSTANCE = "no compute instance"
_OURS = "startup script is ours"
_FROM_SHARE = "runs "  # our script straight from the share: the kernels are patched at boot


@dataclass(frozen=True)
class Step:
    """One thing left to do for some analysts of a tenant, and how."""

    key: str  # apply, grant-access, object-id, create-compute, patch-kernels, sso, folder
    what: str
    users: tuple[str, ...]
    command: str  # a shell command; "" when the step is the analyst's own (SSO)
    where: str = "admin"  # admin: your shell; terminal: the instance's terminal; analyst: studio

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.key,
            "what": self.what,
            "users": list(self.users),
            "command": self.command,
            "where": self.where,
        }


@dataclass(frozen=True)
class Readiness:
    tenant: str
    analysts: tuple[str, ...]
    blocked: frozenset[str] = frozenset()
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> int:
        return len(self.analysts) - len(self.blocked)

    def as_dict(self) -> dict[str, Any]:
        return {
            "analysts": len(self.analysts),
            "ready": self.ready,
            "ready_users": [a for a in self.analysts if a not in self.blocked],
            "steps": [s.as_dict() for s in self.steps],
        }


def terminal_line(alias: str, script: bytes) -> str:
    """One line for an instance's terminal: run the user's uploaded startup script as root, but
    only the bytes whose SHA-256 this inventory rendered (the share is writable by every analyst;
    the same check as the inline launcher create-compute pins)."""
    src = shlex.quote(f"{SHARE_USERS_MOUNT}/{alias}/{STARTUP_SCRIPT}")
    return (
        f'f=$(mktemp) && cp {src} "$f" && echo "{script_sha256(script)}  $f" | '
        f'sha256sum -c --quiet - && sudo bash "$f"; rm -f "$f"'
    )


def assess(
    render: TenantRender, result: TenantResult, inventory: str, applied: bool = False
) -> Readiness:
    """What `result` (a plan, or an apply when `applied`) says about the tenant's analysts.

    After an apply that succeeded, the items it planned to change are done.
    """
    t = render.tenant
    analysts = tuple(u.alias for u in t.user_list) if not t.absent else ()
    if not analysts or (result.error and not result.items):
        return Readiness(t.name, analysts)
    done = applied and result.error is None
    base = f"{CONSOLE} apply -i {shlex.quote(inventory)} -t {t.name}"
    pending: dict[str, list[str]] = {}
    terminal: list[Step] = []

    def need(key: str, alias: str) -> None:
        pending.setdefault(key, []).append(alias)

    items = result.items
    for user in t.user_list:
        a = user.alias
        if not done and any(_is_users_change(i, a) for i in items):
            need("apply", a)
        if any(_lacks_access(i, a, done) for i in items):
            need("grant-access", a)
        if not user.object_id:
            need("object-id", a)
        report = next(
            (i for i in items if i.kind == Kind.COMPUTE and i.target == user.compute_name), None
        )
        if report is not None:
            if report.detail.startswith(_NO_INSTANCE):
                need("create-compute", a)
            elif not report.detail.startswith((_OURS, _FROM_SHARE)):
                script = render.user_files[a][STARTUP_SCRIPT].content
                terminal.append(
                    Step(
                        "patch-kernels",
                        f"patch the kernels on the existing instance {user.compute_name} (once, "
                        "and again after a re-image)",
                        (a,),
                        terminal_line(a, script),
                        "terminal",
                    )
                )
        sso = next((i for i in items if i.target == f"{user.compute_name}/sso"), None)
        if sso is not None and sso.policy is not None and sso.policy.get("actual") == "off":
            terminal.append(Step("sso", sso_step(a, user.compute_name), (a,), "", "analyst"))
    for note in result.notes:
        for a in analysts:
            if note.startswith(f"{USERS}/{a}: no such user folder") and not done:
                need("folder", a)
    steps = [*_admin_steps(pending, base, inventory, t.name), *terminal]
    blocked = frozenset(a for s in steps for a in s.users)
    return Readiness(t.name, analysts, blocked, tuple(steps))


def _lacks_access(i: Change, alias: str, done: bool) -> bool:
    """A vault the analyst cannot read yet: missing, or a grant this run has not made."""
    if i.kind != Kind.ACCESS or not i.target.startswith(f"{alias} on "):
        return False
    if i.action == Action.CREATE:
        return not done
    return i.action == Action.REPORT and i.detail.startswith("missing")


def _is_users_change(i: Change, alias: str) -> bool:
    return i.kind == Kind.FILE and i.target.startswith(f"{USERS}/{alias}/") and i.action in CHANGING


def _admin_steps(
    pending: dict[str, list[str]], base: str, inventory: str, tenant: str
) -> Iterable[Step]:
    inv = shlex.quote(inventory)
    for key, users in pending.items():
        u = tuple(users)
        if key == "apply":
            yield Step(key, "write the analysts' files to the share", u, base)
        elif key == "grant-access":
            yield Step(key, "grant read access to the vault", u, f"{base} --grant-access")
        elif key == "object-id":
            yield Step(
                key,
                "add object_id (the analyst's Entra object id) to the user's entry: the vault "
                "access check and create-compute need it",
                u,
                "az ad user show --id <sign-in name> --query id -o tsv",
            )
        elif key == "create-compute":
            for a in u:
                yield Step(
                    key,
                    f"create {a}'s compute instance",
                    (a,),
                    f"{CONSOLE} create-compute -i {inv} -t {tenant} --user {shlex.quote(a)}",
                )
        elif key == "folder":
            yield Step(
                key,
                "no user folder on the share yet: check the alias (the part of the analyst's "
                "Entra sign-in name before the @)",
                u,
                "",
            )


def assess_all(
    renders: list[TenantRender],
    results: list[TenantResult],
    inventory: str,
    applied: bool = False,
) -> dict[str, Readiness]:
    by_name = {r.tenant.name: r for r in renders}
    return {
        r.tenant: assess(by_name[r.tenant], r, inventory, applied)
        for r in results
        if r.tenant in by_name
    }
