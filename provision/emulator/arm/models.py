"""ARM backend: subscriptions, resource groups, ML workspaces and their compute instances,
the storage accounts and vaults they point at, and long-running operations. No HTTP here.

Rules kept from ARM: names are case-insensitive; a missing subscription, resource group and
resource are three different errors; a compute PUT is a long-running operation that reports
InProgress (``lro_polls`` times) and then Succeeded, after which the instance is Running.

`ArmBackend` is built in layers, each a module: the records in `records`; subscriptions,
resource groups, workspaces and the other resources in `resource_backend`; this module adds the
compute instances, their long-running operations, and the state.json form of it all. The
records are importable from here too.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, fields
from typing import Any

from provision.compute_rules import (
    MAX_SCHEDULES,
    POWER_ACTIONS,
    SCHEDULE_STATUSES,
    cron_problem,
    duration_problem,
    time_zone_problem,
)
from provision.emulator.arm.exceptions import ArmError, ResourceNotFound, ValidationError
from provision.emulator.arm.records import (
    COMPUTE_TYPE,
    ML_PROVIDER,
    NOTEBOOK_SHARE,
    WORKSPACE_TYPE,
    AsyncOperation,
    Compute,
    NamedResource,
    ResourceGroup,
    Workspace,
)
from provision.emulator.arm.resource_backend import ResourceBackend

__all__ = [
    "COMPUTE_TYPE",
    "ML_PROVIDER",
    "NOTEBOOK_SHARE",
    "WORKSPACE_TYPE",
    "ArmBackend",
    "AsyncOperation",
    "Compute",
    "NamedResource",
    "ResourceGroup",
    "Workspace",
]

SCRIPT_SOURCES = ("workspaceStorage", "inline")


class ArmBackend(ResourceBackend):
    """The resources ARM knows about, and the rules of reading and changing them: the resources
    of `ResourceBackend`, plus ML compute instances created, updated and deleted by long-running
    operations, and the state.json form of it all."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: dict[str, AsyncOperation] = {}
        # How long a compute operation runs; 0 finishes it at once.
        self.lro_seconds = 1.0
        self.lro_retry_after = 1  # seconds, sent as Retry-After while an operation runs

    # --- computes ---------------------------------------------------------------------------------
    def compute(self, ws: Workspace, name: str) -> Compute:
        self.settle()
        found = ws.computes.get(name.lower())
        if found is None:
            raise ResourceNotFound(f"{WORKSPACE_TYPE}/{ws.name}/computes", name, ws.resource_group)
        return found

    def ensure_compute(self, ws: Workspace, compute: Compute) -> Compute:
        found = ws.computes.get(compute.name.lower())
        if found is None:
            found = ws.computes[compute.name.lower()] = compute
            self._changed()
        return found

    # --- compute create / update (long-running) ---------------------------------------------------
    def put_compute(
        self,
        ws: Workspace,
        name: str,
        body: dict[str, Any],
    ) -> tuple[Compute, bool, AsyncOperation]:
        """Create or update a compute from an ARM PUT body; returns (compute, created, op)."""
        props = body.get("properties")
        if not isinstance(props, dict) or not props.get("computeType"):
            raise ValidationError("properties.computeType is required.")
        inner = props.get("properties") or {}
        if not isinstance(inner, dict):
            raise ValidationError("properties.properties must be an object.")
        scripts = inner.get("setupScripts")
        if scripts is not None:
            _check_setup_scripts(scripts)
        _check_idle_time(inner.get("idleTimeBeforeShutdown"), "properties.properties.")
        if inner.get("schedules") is not None:
            _check_schedules(inner["schedules"])
        tags = body.get("tags")
        if tags is not None and (
            not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())
        ):
            raise ValidationError("tags must be an object of strings.")
        assigned = (inner.get("personalComputeInstanceSettings") or {}).get("assignedUser") or {}
        existing = ws.computes.get(name.lower())
        created = existing is None
        location = str(body.get("location") or ws.location)
        if created:
            self._check_region_unique(name, location)
        compute = existing or Compute(name=name, location=location)
        compute.compute_type = str(props["computeType"])
        compute.vm_size = str(inner.get("vmSize") or compute.vm_size)
        compute.description = props.get("description", compute.description)
        if scripts is not None:
            compute.setup_scripts = scripts
        if "idleTimeBeforeShutdown" in inner:
            compute.idle_time_before_shutdown = inner["idleTimeBeforeShutdown"]
        if "schedules" in inner:
            compute.schedules = _stored_schedules(inner["schedules"])
        if created:
            # Created on behalf of a user, SSO starts off and only that user can turn it on
            # (Microsoft Learn, "Create a compute instance", Create on behalf of).
            on_behalf = bool(assigned.get("objectId"))
            compute.enable_sso = False if on_behalf else inner.get("enableSSO", True) is not False
        if tags is not None:
            compute.tags = dict(tags)
        if isinstance(body.get("identity"), dict):
            compute.identity = body["identity"]
        if assigned.get("objectId"):
            compute.assigned_object_id = str(assigned["objectId"])
            compute.assigned_tenant_id = str(assigned.get("tenantId") or ws.tenant_id)
        compute.provisioning_state = "Creating" if created else "Updating"
        if created:
            compute.state = "Creating"
        compute.modified_on = time.time()
        ws.computes[name.lower()] = compute
        op = AsyncOperation(
            id=str(uuid.uuid4()),
            subscription_id=ws.subscription_id,
            location=ws.location,
            workspace=(ws.subscription_id, ws.resource_group, ws.name),
            compute=name,
            duration=self.lro_seconds,
            error=self._create_blocker(ws) if created else None,
        )
        self.operations[op.id] = op
        if op.due:
            self._finish(op)
        self._changed()
        return compute, created, op

    def _create_blocker(self, ws: Workspace) -> tuple[str, str] | None:
        """Why creating a compute instance in `ws` fails once it runs, or None.

        Microsoft Learn, "Create a compute instance", prerequisites: "In the storage account,
        the 'Allow storage account key access' option must be enabled for compute instance
        creation to be successful." Azure documents no error for it; the emulator accepts the
        PUT and ends the operation Failed with the storage service's own refusal
        (KeyBasedAuthenticationNotPermitted), the instance in CreateFailed.
        """
        account = self.find_named("storage", ws.storage_account)
        if account is not None and account.properties.get("allowSharedKeyAccess") is False:
            return (
                "KeyBasedAuthenticationNotPermitted",
                "Key based authentication is not permitted on this storage account. "
                "Compute instance creation needs 'Allow storage account key access' on the "
                f"workspace's storage account {ws.storage_account}.",
            )
        return None

    def update_idle_shutdown(self, ws: Workspace, name: str, body: dict[str, Any]) -> Compute:
        """Compute_UpdateIdleShutdownSetting: POST .../computes/{name}/updateIdleShutdownSetting
        with an IdleShutdownSetting body; 200 with no body (azure-rest-api-specs,
        machinelearningservices stable/2024-04-01)."""
        compute = self.compute(ws, name)
        if compute.compute_type != "ComputeInstance":
            raise ValidationError("Idle shutdown can only be set on a compute instance.")
        value = body.get("idleTimeBeforeShutdown")
        if value is None:
            raise ValidationError("idleTimeBeforeShutdown is required.")
        _check_idle_time(value, "")
        compute.idle_time_before_shutdown = value
        compute.modified_on = time.time()
        self._changed()
        return compute

    def _check_region_unique(self, name: str, location: str) -> None:
        """Compute names are unique per Azure region across every subscription (Azure ML docs,
        "Create a compute instance": "Name needs to be unique across all existing computes
        within an Azure region"); the service answers with this message."""
        for ws in self.workspaces.values():
            found = ws.computes.get(name.lower())
            if found is not None and found.location.lower() == location.lower():
                raise ArmError(
                    "Compute with this name already exists. Compute name needs to be unique "
                    "across all existing computes within an Azure region.",
                    status=409,
                    code="Conflict",
                )

    def delete_compute(self, ws: Workspace, name: str, action: str | None) -> AsyncOperation:
        """Start deleting a compute (Compute_Delete, 2024-04-01: `underlyingResourceAction`
        Delete or Detach is required; the answer is 202 with an async operation). The compute
        is gone once the operation has succeeded."""
        if action not in {"Delete", "Detach"}:
            raise ValidationError(
                "The query parameter underlyingResourceAction is required: Delete or Detach."
            )
        compute = self.compute(ws, name)
        compute.provisioning_state = "Deleting"
        compute.state = "Deleting"
        op = AsyncOperation(
            id=str(uuid.uuid4()),
            subscription_id=ws.subscription_id,
            location=ws.location,
            workspace=(ws.subscription_id, ws.resource_group, ws.name),
            compute=compute.name,
            duration=self.lro_seconds,
            kind="delete",
        )
        self.operations[op.id] = op
        if op.due:
            self._finish(op)
        self._changed()
        return op

    def poll(self, subscription_id: str, op_id: str) -> AsyncOperation:
        op = self.operations.get(op_id)
        if op is None or op.subscription_id.lower() != subscription_id.lower():
            raise ResourceNotFound(f"{ML_PROVIDER}/locations/computeOperationsStatus", op_id, "")
        if op.due:
            self._finish(op)
            self._changed()
        return op

    def settle(self) -> None:
        """Finish every operation whose time has come (called before computes are read)."""
        due = [op for op in self.operations.values() if op.due]
        for op in due:
            self._finish(op)
        if due:
            self._changed()

    def list_computes(self, ws: Workspace) -> list[Compute]:
        self.settle()
        return [ws.computes[k] for k in sorted(ws.computes)]

    def _finish(self, op: AsyncOperation) -> None:
        op.status, op.end = ("Failed" if op.error else "Succeeded"), time.time()
        sub, group, name = op.workspace
        ws = self.workspaces.get((sub.lower(), group.lower(), name.lower()))
        if ws is not None:
            compute = ws.computes.get(op.compute.lower())
            if compute is not None and op.error:
                compute.provisioning_state, compute.state = "Failed", "CreateFailed"
                compute.error = op.error
            elif compute is not None and op.kind == "delete":
                del ws.computes[op.compute.lower()]
            elif compute is not None:
                compute.provisioning_state = "Succeeded"
                compute.state = "Running"

    # --- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "subscriptions": self.subscriptions,
            "resource_groups": [asdict(g) for g in self.resource_groups.values()],
            "workspaces": [
                {
                    **{k: v for k, v in asdict(ws).items() if k != "computes"},
                    "computes": [asdict(c) for c in ws.computes.values()],
                }
                for ws in self.workspaces.values()
            ],
            "storage_accounts": [asdict(r) for r in self.storage_accounts.values()],
            "vaults": [asdict(r) for r in self.vaults.values()],
            "log_analytics": [asdict(r) for r in self.log_analytics.values()],
            "delegations": self.delegations,
            "operations": [asdict(o) for o in self.operations.values()],
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.subscriptions = dict(data.get("subscriptions", {}))
        self.resource_groups = {
            (g["subscription_id"].lower(), g["name"].lower()): ResourceGroup(**g)
            for g in data.get("resource_groups", [])
        }
        self.workspaces = {}
        for raw in data.get("workspaces", []):
            computes = [
                Compute(**{**c, "error": tuple(c["error"]) if c.get("error") else None})
                for c in raw["computes"]
            ]
            ws = Workspace(
                **{k: v for k, v in raw.items() if k != "computes"},
                computes={c.name.lower(): c for c in computes},
            )
            self.workspaces[
                (ws.subscription_id.lower(), ws.resource_group.lower(), ws.name.lower())
            ] = ws
        self.storage_accounts = {
            _key(r): NamedResource(**r) for r in data.get("storage_accounts", [])
        }
        self.vaults = {_key(r): NamedResource(**r) for r in data.get("vaults", [])}
        self._name_index = {}
        self.delegations = {k: list(v) for k, v in data.get("delegations", {}).items()}
        self.log_analytics = {_key(r): NamedResource(**r) for r in data.get("log_analytics", [])}
        self.operations = {}
        for raw in data.get("operations", []):
            known = {k: v for k, v in raw.items() if k in _OPERATION_FIELDS}
            known.setdefault("duration", 0.0)  # a state file from before durations: done
            if known.get("error"):
                known["error"] = tuple(known["error"])
            op = AsyncOperation(**{**known, "workspace": tuple(raw["workspace"])})
            self.operations[op.id] = op


_OPERATION_FIELDS = frozenset(f.name for f in fields(AsyncOperation))


def _key(raw: dict[str, Any]) -> tuple[str, str, str]:
    return (raw["subscription_id"].lower(), raw["resource_group"].lower(), raw["name"].lower())


def _check_idle_time(value: Any, where: str) -> None:
    if value is None:
        return
    problem = duration_problem(value) if isinstance(value, str) else "must be a string"
    if problem:
        raise ValidationError(f"{where}idleTimeBeforeShutdown: {problem}.")


def _check_schedules(schedules: Any) -> None:
    """ComputeSchedules (2025-12-01): computeStartStop[] with action, triggerType and cron."""
    where = "properties.properties.schedules"
    if not isinstance(schedules, dict):
        raise ValidationError(f"{where} must be an object.")
    items = schedules.get("computeStartStop") or []
    if not isinstance(items, list):
        raise ValidationError(f"{where}.computeStartStop must be an array.")
    if len(items) > MAX_SCHEDULES:
        raise ValidationError(
            f"{where}.computeStartStop: a compute instance takes at most {MAX_SCHEDULES} schedules."
        )
    for i, item in enumerate(items):
        at = f"{where}.computeStartStop[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{at} must be an object.")
        if item.get("action") not in POWER_ACTIONS:
            raise ValidationError(f"{at}.action must be Start or Stop.")
        if item.get("status", "Enabled") not in SCHEDULE_STATUSES:
            raise ValidationError(f"{at}.status must be Enabled or Disabled.")
        trigger = item.get("triggerType")
        if trigger == "Recurrence":
            continue  # accepted and kept as given; the tool writes only cron schedules
        if trigger != "Cron":
            raise ValidationError(f"{at}.triggerType must be Recurrence or Cron.")
        cron = item.get("cron")
        if not isinstance(cron, dict):
            raise ValidationError(f"{at}.cron is required when triggerType is Cron.")
        problem = cron_problem(cron.get("expression"))
        if problem:
            raise ValidationError(f"{at}.cron.expression: {problem}.")
        zone = cron.get("timeZone", "UTC")
        problem = time_zone_problem(zone) if isinstance(zone, str) else "must be a string"
        if problem:
            raise ValidationError(f"{at}.cron.timeZone: {problem}.")


def _stored_schedules(schedules: Any) -> dict[str, Any] | None:
    """The schedules as ARM reads them back: each with its system id and provisioning status,
    the time zone defaulted to UTC and the status to Enabled."""
    if schedules is None:
        return None
    out = []
    for item in schedules.get("computeStartStop") or []:
        stored = {
            "id": str(uuid.uuid4()),
            "provisioningStatus": "Completed",
            "status": item.get("status", "Enabled"),
            "action": item["action"],
            "triggerType": item["triggerType"],
        }
        if item["triggerType"] == "Cron":
            stored["cron"] = {"timeZone": "UTC", **item["cron"]}
        else:
            stored["recurrence"] = item.get("recurrence")
        out.append(stored)
    return {"computeStartStop": out}


def _check_setup_scripts(scripts: Any) -> None:
    if not isinstance(scripts, dict) or not isinstance(scripts.get("scripts"), dict):
        raise ValidationError("properties.properties.setupScripts.scripts must be an object.")
    for kind, script in scripts["scripts"].items():
        if kind not in ("startupScript", "creationScript"):
            raise ValidationError(
                f"setupScripts.scripts.{kind} is not startupScript or creationScript."
            )
        if not isinstance(script, dict):
            raise ValidationError(f"setupScripts.scripts.{kind} must be an object.")
        if script.get("scriptSource") not in SCRIPT_SOURCES:
            raise ValidationError(
                f"setupScripts.scripts.{kind}.scriptSource must be one of "
                f"{', '.join(SCRIPT_SOURCES)}."
            )
        if not isinstance(script.get("scriptData"), str) or not script["scriptData"]:
            raise ValidationError(f"setupScripts.scripts.{kind}.scriptData is required.")
