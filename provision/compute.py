"""create-compute: an analyst's compute instance, assigned to the analyst, whose boot runs only
the startup script this tool rendered.

Azure ML runs `setupScripts.scripts.startupScript` as root at every boot of a compute instance
(Microsoft Learn, "Customize the compute instance with a script"). With
`scriptSource: workspaceStorage` it runs a file of the workspace's notebook share, which every
workspace user with data access can rewrite: whoever edits `Users/<alias>/...sh` gets root on
that analyst's instance at its next start. So new instances get an `inline` script instead
(base64 `scriptData`, fixed at creation, readable only through ARM): a short launcher that copies
the share's script to a root-only temporary file, checks its SHA-256 against the value pinned at
creation, and runs the copy only when it matches. The launcher is a few hundred bytes, far below
any request limit (Azure documents none for `scriptData`); the script itself stays on the share,
where `apply` keeps it and `plan` compares it. A changed script (new tool version, new
kernel mode) is refused by existing instances until they are recreated; `plan` says so.

Setup scripts can only be given when the instance is created, and the 2020-08-01 models of
azure-mgmt-machinelearningservices do not know them, so the PUT goes at api-version 2025-12-01
(`COMPUTE_INSTANCE_API_VERSION`: the first stable version that also carries the compute
policy's `idleTimeBeforeShutdown`, `schedules` and `enableSSO`) through the ML client's own
pipeline (`_send_request`: same credential, retries and transport), and the long-running
operation is followed through its Azure-AsyncOperation URL.

The instance is tagged `managed-by: msticpy-provision`, `tenant` and `alias` (Computes take
`tags`; ARM returns them on every read), so offboarding recognises the tool's instances by their
tags first and by the launcher's script data only as a fallback.

Azure creates no compute instance where the workspace's storage account refuses Shared Key
(Microsoft Learn, "Create a compute instance", prerequisites: "In the storage account, the
'Allow storage account key access' option must be enabled for compute instance creation to be
successful"), so create-compute checks `allowSharedKeyAccess` first and refuses up front.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import shlex
import sys
from typing import TYPE_CHECKING, Any

from provision.compute_rules import minutes_form
from provision.errors import AzureOperationError, Problem, TenantError, UserInputError
from provision.inventory.compute_policy import ComputePolicy
from provision.inventory.model import Inventory, Tenant, User
from provision.render import STARTUP_LOG, STARTUP_SCRIPT, TenantRender, sh_literal
from provision.share import WorkspaceShare
from provision.vault import MANAGED_BY
from provision.workspace import (
    COMPUTE_INSTANCE_API_VERSION,
    SHARE_SCRIPT_SOURCES,
    SHARED_KEY_OFF,
    ComputeInfo,
    discover,
    explain_azure_error,
    workspace_path,
)
from provision.yamlsource import load_yaml_text, read_text_bounded

if TYPE_CHECKING:
    from provision.signin import SignIn

STARTUP_TIMEOUT = "15m"
DEFAULT_VM_SIZE = "Standard_DS3_v2"
# Where the notebook share is mounted on a compute instance; an inline script starts in the
# share's Users folder (.../code/Users), which is the fallback.
SHARE_USERS_MOUNT = "/home/azureuser/cloudfiles/code/Users"
MAX_SCRIPT_BYTES = 4 * 1024 * 1024
LAUNCHER_MARK = "# msticpy-provision launcher v1"
_PIN_RE = re.compile(r"^PINNED_SHA256=([0-9a-f]{64})$", re.MULTILINE)
_ALIAS_LINE_RE = re.compile(r"^USER_ALIAS=(.*)$", re.MULTILINE)


def startup_script_path(alias: str) -> str:
    """The script's path in the notebook share (what a workspaceStorage scriptData names)."""
    return f"Users/{alias}/{STARTUP_SCRIPT}"


def script_sha256(script: bytes) -> str:
    return hashlib.sha256(script).hexdigest()


def launcher_script(alias: str, pinned_sha256: str) -> str:
    """The inline startup script: run the share's startup script only if it is the pinned one.

    The bytes that are hashed are the bytes that run: the share file is copied once into a
    root-only temporary file (mktemp, umask 077) and that copy is checked and run, so nobody
    can swap the file between the check and the run. It never fails the boot.
    """
    a = sh_literal(alias)
    name = sh_literal(STARTUP_SCRIPT)
    return f"""#!/bin/bash
{LAUNCHER_MARK}: runs Users/<alias>/{STARTUP_SCRIPT} only if its SHA-256 is the pinned one
USER_ALIAS={a}
PINNED_SHA256={pinned_sha256}
LOG={sh_literal(STARTUP_LOG)}
log() {{ printf '%s launcher: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" | tee -a "$LOG"; }}
SRC={sh_literal(SHARE_USERS_MOUNT)}/$USER_ALIAS/{name}
[ -f "$SRC" ] || SRC="$PWD/$USER_ALIAS/"{name}
umask 077
COPY=$(mktemp) || {{ log "cannot create a temporary file; kernels not patched"; exit 0; }}
trap 'rm -f "$COPY"' EXIT
if ! head -c {MAX_SCRIPT_BYTES} -- "$SRC" >"$COPY" 2>/dev/null; then
    log "cannot read $SRC (share not mounted?); kernels not patched"; exit 0
fi
GOT=$(sha256sum "$COPY" | cut -d' ' -f1)
if [ "$GOT" != "$PINNED_SHA256" ]; then
    log "refused $SRC: SHA-256 $GOT is not the pinned $PINNED_SHA256 (changed on the share)"
    log "to run a new startup script, recreate the instance with invoke create-compute"
    exit 0
fi
bash "$COPY" || log "startup script ended with status $?"
exit 0
"""


def launcher_pin(script_data: str | None) -> tuple[str, str] | None:
    """(alias, pinned SHA-256) when `script_data` is our inline launcher (base64), else None."""
    if not script_data:
        return None
    try:
        text = base64.b64decode(script_data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if LAUNCHER_MARK not in text:
        return None
    pin = _PIN_RE.search(text)
    alias = _ALIAS_LINE_RE.search(text)
    if pin is None or alias is None:
        return None
    try:
        words = shlex.split(alias.group(1))  # the alias as bash reads it (sh_literal quoting)
    except ValueError:
        return None
    return (words[0], pin.group(1)) if len(words) == 1 else None


SHARED_KEY_PREREQUISITE = (
    "Azure ML: \"In the storage account, the 'Allow storage account key access' option must be "
    'enabled for compute instance creation to be successful" (Microsoft Learn, Create a compute '
    "instance, prerequisites)"
)


def compute_tags(tenant: str, alias: str) -> dict[str, str]:
    """The tags create-compute puts on an instance (offboard recognises instances by them)."""
    return {"managed-by": MANAGED_BY, "tenant": tenant, "alias": alias}


def compute_body(
    location: str,
    size: str,
    alias: str,
    *,
    tenant_id: str,
    object_id: str,
    script: bytes,
    policy: ComputePolicy | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The 2025-12-01 PUT body: assigned to the analyst, inline launcher pinned to `script`,
    and the compute policy's idle shutdown, schedules, SSO and identity."""
    launcher = launcher_script(alias, script_sha256(script))
    props: dict[str, Any] = {
        "vmSize": size,
        "setupScripts": {
            "scripts": {
                "startupScript": {
                    "scriptSource": "inline",
                    "scriptData": base64.b64encode(launcher.encode("utf-8")).decode("ascii"),
                    "timeout": STARTUP_TIMEOUT,
                }
            }
        },
        # With an assigned user the instance is the analyst's; without one it would belong to
        # whoever creates it (the admin or the CI identity).
        "personalComputeInstanceSettings": {
            "assignedUser": {"objectId": object_id, "tenantId": tenant_id}
        },
    }
    body: dict[str, Any] = {
        "location": location,
        "properties": {"computeType": "ComputeInstance", "properties": props},
    }
    if tags:
        body["tags"] = dict(tags)
    if policy is not None:
        props.update(policy_properties(policy))
        if policy.identity is not None:
            body["identity"] = policy.identity.arm()
    return body


def policy_properties(policy: ComputePolicy) -> dict[str, Any]:
    """ComputeInstanceProperties (2025-12-01) the policy sets; vmSize is given separately."""
    props: dict[str, Any] = {}
    if policy.idle_shutdown is not None:
        props["idleTimeBeforeShutdown"] = minutes_form(policy.idle_shutdown)
    if policy.schedules is not None:
        props["schedules"] = {"computeStartStop": [s.arm() for s in policy.schedules]}
    if policy.sso is False:
        # An instance made for another user starts with SSO off and only that user can turn it
        # on (DESIGN.md, Compute instances): asking for it would change nothing.
        props["enableSSO"] = False
    return props


def compute_report(c: ComputeInfo | None, user: User, render: TenantRender) -> str:
    """What plan says about a user's compute instance and its startup script (one line)."""
    name = user.compute_name
    if c is None:
        return f"no compute instance {name!r} (invoke create-compute)"
    state = c.state or "unknown state"
    script = render.user_files[user.alias][STARTUP_SCRIPT].content
    if c.raw_script_source == "inline":
        pin = launcher_pin(c.script_data)
        if pin is None:
            return "startup script is not ours: an inline script"
        alias, pinned = pin
        if alias != user.alias:
            return f"startup script is not ours: our launcher for another user ({alias})"
        if pinned == script_sha256(script):
            return f"startup script is ours: inline launcher pinned to the current script ({state})"
        return (
            f"inline launcher pins an older startup script (SHA-256 {pinned[:12]}...): the "
            "instance refuses the current one at boot; recreate it with create-compute"
        )
    if c.raw_script_source in SHARE_SCRIPT_SOURCES:
        if c.startup_script == startup_script_path(user.alias):
            return (
                f"runs {c.startup_script} straight from the share ({c.raw_script_source}): any "
                "workspace user can rewrite it and get root at the next boot; recreate the "
                "instance with create-compute (inline launcher)"
            )
        return f"startup script is not ours: {c.startup_script or c.raw_script_source}"
    if c.raw_script_source:
        return f"startup script is not ours: {c.raw_script_source}"
    return "no startup script: kernels are patched only when you run patch-kernel"


def _user_entry(inv: Inventory, t: Tenant, alias: str) -> tuple[User, Problem] | None:
    """The user and a Problem located at its inventory line (for errors about that entry)."""
    user = next((u for u in t.user_list if u.alias == alias), None)
    if user is None:
        return None
    ti = next(i for i, x in enumerate(inv.tenants) if x.name == t.name)
    ui = t.user_list.index(user)
    try:
        doc = load_yaml_text(read_text_bounded(inv.path, "inventory"), str(inv.path))
        line = doc.line_of(("tenants", ti, "users", ui))
    except (OSError, UserInputError):
        line = None
    where = Problem("", file=str(inv.path), line=line, path=f"tenants[{ti}].users[{ui}]")
    return user, where


def policy_summary(policy: ComputePolicy) -> list[str]:
    """What the policy set on a new instance, one line each (for create-compute's output)."""
    out = []
    if policy.idle_shutdown is not None:
        out.append(f"idle shutdown after {policy.idle_shutdown}")
    for s in policy.schedules or ():
        out.append(f"{s.action} at cron {s.cron!r} ({s.time_zone})")
    if policy.identity is not None:
        out.append(f"managed identity: {policy.identity.type}")
    if policy.kernel is not None:
        out.append(f"pinned kernel: {policy.kernel.requirement} (built by the startup script)")
    return out


def sso_step(alias: str, name: str) -> str:
    """What the analyst does once: Azure creates an instance made for another user with SSO off."""
    return (
        f"next: {alias} signs in to Azure ML studio (ml.azure.com), opens Compute > {name} and "
        "selects 'Enable SSO' (only the assigned user can; until then the instance cannot act "
        "as the analyst, e.g. for msticpy's Azure connections)"
    )


def create_compute(
    inv: Inventory,
    r: TenantRender,
    alias: str,
    size: str | None,
    endpoints: Any,
    signin: SignIn | None = None,
) -> int:
    """Create `alias`'s instance, assigned to the analyst, with our launcher and the user's
    compute policy (`size`, when given, wins over the policy's vm_size); 0 on success."""
    from azure.core.exceptions import AzureError

    from provision.azure import Clients

    t = r.tenant
    found = _user_entry(inv, t, alias)
    if found is None:
        known = ", ".join(u.alias for u in t.user_list)
        raise UserInputError(
            [Problem(f"tenant {t.name} has no user {alias!r} (users: {known})", file=str(inv.path))]
        )
    user, where = found
    if not user.object_id:
        raise UserInputError(
            [
                Problem(
                    f"create-compute needs object_id for {alias!r}: the analyst's Entra object id "
                    "in this tenant (az ad user show --id <sign-in name> --query id), so that the "
                    "instance is assigned to the analyst and not to whoever creates it",
                    file=where.file,
                    line=where.line,
                    path=where.path,
                )
            ]
        )
    name = user.compute_name
    script = r.user_files[alias][STARTUP_SCRIPT].content
    clients = Clients(0, endpoints, signin.for_tenants([t]) if signin else None)
    try:
        try:
            ws = discover(clients, t)
        except TenantError as exc:
            raise AzureOperationError(f"{t.name}: {exc}") from None
        if ws.storage_auth_reason == SHARED_KEY_OFF:
            raise AzureOperationError(
                f"{t.name}: cannot create compute instance {name}: storage account "
                f"{ws.storage_account} does not allow Shared Key (allowSharedKeyAccess: false); "
                f"{SHARED_KEY_PREREQUISITE}"
            )
        existing = ws.computes.get(name)
        if existing is not None:
            report = compute_report(existing, user, r)
            if report.startswith("startup script is ours"):
                print(f"{t.name}: compute instance {name} already exists: {report}")
                return 0
            raise AzureOperationError(
                f"{t.name}: compute instance {name} already exists ({report}); setup "
                "scripts can only be set when an instance is created: delete it or name another "
                "with compute:"
            )
        share = WorkspaceShare(
            clients.share(t, ws.storage_account, ws.file_share, ws.storage_key),
            tenant=t.name,
        )
        on_share = share.download(startup_script_path(alias))
        if on_share is None or on_share[0] != script:
            state = "is not in" if on_share is None else "differs from this inventory's in"
            raise AzureOperationError(
                f"{t.name}: {startup_script_path(alias)} {state} the workspace share; "
                f"run `invoke apply -i {inv.path} -t {t.name}` first"
            )
        location = ws.location or "eastus"
        policy = t.policy_for(user)
        vm_size = size or policy.vm_size or DEFAULT_VM_SIZE
        body = compute_body(
            location,
            vm_size,
            alias,
            tenant_id=t.tenant_id,
            object_id=user.object_id,
            script=script,
            policy=policy,
            tags=compute_tags(t.name, alias),
        )
        try:
            _put_and_wait(clients, t, name, body)
        except AzureError as exc:
            raise AzureOperationError(
                explain_azure_error(
                    exc,
                    t,
                    f"compute instance {name}",
                    "creating computes needs Contributor or AzureML Compute Operator "
                    "on the workspace",
                )
            ) from None
        print(
            f"{t.name}: compute instance {name} created for {alias} (object id "
            f"{user.object_id}); at every boot it runs {startup_script_path(alias)} only if its "
            f"SHA-256 is {script_sha256(script)[:12]}... (pinned in an inline launcher)"
        )
        for line in policy_summary(policy):
            print(f"  {line}")
        print(sso_step(alias, name))
        return 0
    finally:
        clients.close()


def _put_and_wait(clients: Any, t: Any, name: str, body: dict[str, Any]) -> str:
    from azure.core.rest import HttpRequest

    from provision.lro import arm_sender, wait_for_operation

    ml = clients.ml(t)
    url = f"{workspace_path(t)}/computes/{name}?api-version={COMPUTE_INSTANCE_API_VERSION}"
    resp = ml._send_request(HttpRequest("PUT", url, json=body))

    def progress(state: str, elapsed: float) -> None:
        print(f"  {t.name}: creating {name}: {state} ({elapsed:.0f}s)", file=sys.stderr, flush=True)

    return wait_for_operation(
        arm_sender(ml),
        resp,
        f"{t.name}: creating compute instance {name}",
        resource_url=url,
        progress=progress,
    )


# --- the compute policy against an existing instance ----------------------------------------
#
# What apply may change on an existing instance, and what it leaves alone (checked in the REST
# spec, machinelearningservices stable/2024-04-01 and 2025-12-01, and Microsoft Learn, "Create
# a compute instance"):
# - idle shutdown: POST .../computes/{name}/updateIdleShutdownSetting {idleTimeBeforeShutdown}
#   ("You can also change the idle time using: REST API"): apply does it.
# - VM size: "It isn't possible to change the virtual machine size of compute instance once
#   it's created": only a re-creation changes it.
# - schedules and identity: set at creation (ARM templates); the stable API has no action for
#   them and Compute_Update (PATCH) takes only AmlCompute scale settings: a re-creation (or
#   studio, for schedules) changes them.
# - SSO: only the assigned user can enable it (create on behalf of): the analyst's step.
# apply never re-creates an analyst's instance.

FIX_UPDATE = "update"  # apply changes it (updateIdleShutdownSetting)
FIX_RECREATE = "recreate"  # only deleting and re-creating the instance changes it
FIX_ANALYST = "analyst"  # only the analyst can change it


def _schedule_key(s: tuple[str, str, str, str, str]) -> tuple[str, ...]:
    action, trigger, expression, zone, status = s
    return (action.lower(), trigger.lower(), " ".join(expression.split()), zone, status.lower())


def _schedules_text(items: list[tuple[str, ...]]) -> str:
    if not items:
        return "none"
    return ", ".join(
        f"{a} {e!r} {z}" + ("" if st == "enabled" else " (disabled)") for a, _, e, z, st in items
    )


def policy_differences(c: ComputeInfo, policy: ComputePolicy) -> list[dict[str, str]]:
    """How instance `c` differs from `policy`: one {field, actual, desired, fix} per difference
    (the keys the JSON plan carries under `policy`). Fields the policy leaves unset are not
    compared."""
    from provision.compute_rules import parse_duration

    out: list[dict[str, str]] = []
    if policy.idle_shutdown is not None:
        actual = c.idle_time_before_shutdown
        if actual is None or parse_duration(actual) != parse_duration(policy.idle_shutdown):
            out.append(
                {
                    "field": "idle_shutdown",
                    "actual": actual or "off",
                    "desired": minutes_form(policy.idle_shutdown),
                    "fix": FIX_UPDATE,
                }
            )
    if policy.schedules is not None:
        have = sorted(_schedule_key(s) for s in c.schedules)
        want = sorted(
            _schedule_key((s.action, "Cron", s.cron, s.time_zone, "Enabled"))
            for s in policy.schedules
        )
        if have != want:
            out.append(
                {
                    "field": "schedules",
                    "actual": _schedules_text(have),
                    "desired": _schedules_text(want),
                    "fix": FIX_RECREATE,
                }
            )
    if policy.vm_size is not None and (c.vm_size or "").lower() != policy.vm_size.lower():
        out.append(
            {
                "field": "vm_size",
                "actual": c.vm_size or "unknown",
                "desired": policy.vm_size,
                "fix": FIX_RECREATE,
            }
        )
    if policy.sso is not None and c.enable_sso is not None and c.enable_sso != policy.sso:
        out.append(
            {
                "field": "sso",
                "actual": "on" if c.enable_sso else "off",
                "desired": "on" if policy.sso else "off",
                "fix": FIX_ANALYST,
            }
        )
    if policy.identity is not None:
        want_type = policy.identity.arm()["type"]
        if (c.identity_type or "None").lower() != want_type.lower():
            out.append(
                {
                    "field": "identity",
                    "actual": c.identity_type or "none",
                    "desired": want_type,
                    "fix": FIX_RECREATE,
                }
            )
    return out


_LABELS = {
    "idle_shutdown": "idle shutdown",
    "schedules": "start/stop schedules",
    "vm_size": "VM size",
    "sso": "SSO",
    "identity": "managed identity",
}


def difference_text(d: dict[str, str]) -> str:
    """One line for a plan's detail column."""
    what = f"{_LABELS[d['field']]} {d['actual']}, policy {d['desired']}"
    if d["fix"] == FIX_UPDATE:
        return f"{what}: apply sets it (updateIdleShutdownSetting)"
    if d["fix"] == FIX_ANALYST:
        return f"{what}: only the assigned analyst can change it (studio: Compute > Enable SSO)"
    return (
        f"{what}: needs re-creation (delete the instance, then create-compute); apply never "
        "re-creates an analyst's instance"
    )


def update_idle_shutdown(ml: Any, t: Tenant, name: str, value: str) -> None:
    """POST updateIdleShutdownSetting (Compute_UpdateIdleShutdownSetting: 200, no body)."""
    from azure.core.rest import HttpRequest

    url = (
        f"{workspace_path(t)}/computes/{name}/updateIdleShutdownSetting"
        f"?api-version={COMPUTE_INSTANCE_API_VERSION}"
    )
    resp = ml._send_request(HttpRequest("POST", url, json={"idleTimeBeforeShutdown": value}))
    resp.raise_for_status()


KERNEL_STATUS = ".msticpy-provision-kernel-status.json"  # in Users/<alias>/ (startup script)


def kernel_status_text(raw: bytes | None, requirement: str) -> str:
    """What the instance last reported about its pinned kernel (the share file is writable by
    every workspace user: a report, never a basis for a decision)."""
    import json

    if raw is None:
        return f"pinned kernel {requirement}: no status yet (the instance has not booted with it)"
    try:
        doc = json.loads(raw.decode("utf-8"))
        result, when = str(doc["result"]), str(doc.get("when") or "?")
        installed = doc.get("installed_version") or "none"
        detail = " ".join(str(doc.get("detail") or "").split())[:200]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return f"pinned kernel {requirement}: status file unreadable"
    stale = (
        "" if doc.get("requirement") == requirement else f" (reported for {doc.get('requirement')})"
    )
    return (
        f"pinned kernel {requirement}: {result} at {when}, msticpy {installed} installed"
        f"{stale}{': ' + detail if result == 'failed' and detail else ''} (as the instance reports)"
    )
