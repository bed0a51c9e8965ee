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
from typing import Any

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
    if policy.sso is not None:
        props["enableSSO"] = policy.sso
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
    inv: Inventory, r: TenantRender, alias: str, size: str | None, endpoints: Any
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
    clients = Clients(0, endpoints)
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
            t.tenant_id,
            user.object_id,
            script,
            policy,
            compute_tags(t.name, alias),
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
