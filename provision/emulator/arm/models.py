"""ARM backend: subscriptions, resource groups, ML workspaces and their compute instances,
the storage accounts and vaults they point at, and long-running operations. No HTTP here.

Rules kept from ARM: names are case-insensitive; a missing subscription, resource group and
resource are three different errors; a compute PUT is a long-running operation that reports
InProgress (``lro_polls`` times) and then Succeeded, after which the instance is Running.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from provision.emulator.arm.exceptions import (
    ArmError,
    ResourceGroupNotFound,
    ResourceNotFound,
    SubscriptionNotFound,
    ValidationError,
)

__all__ = [
    "ML_PROVIDER",
    "ArmBackend",
    "AsyncOperation",
    "Compute",
    "ResourceGroup",
    "Workspace",
]

ML_PROVIDER = "Microsoft.MachineLearningServices"
WORKSPACE_TYPE = f"{ML_PROVIDER}/workspaces"
COMPUTE_TYPE = f"{ML_PROVIDER}/workspaces/computes"
SCRIPT_SOURCES = ("workspaceStorage", "inline")
NOTEBOOK_SHARE = "code-391ff5ac-6576-460f-ba4d-7e03433c68b6"  # Azure ML's notebooks share


@dataclass
class ResourceGroup:
    subscription_id: str
    name: str
    location: str


@dataclass
class Compute:
    name: str
    location: str
    compute_type: str = "ComputeInstance"
    vm_size: str = "STANDARD_DS3_V2"
    state: str = "Running"
    provisioning_state: str = "Succeeded"
    assigned_object_id: str | None = None
    assigned_tenant_id: str | None = None
    created_by: str = ""
    created_on: float = field(default_factory=time.time)
    modified_on: float = field(default_factory=time.time)
    setup_scripts: dict[str, Any] | None = None
    description: str | None = None


@dataclass
class Workspace:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    tenant_id: str
    storage_account: str
    key_vault: str
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    principal_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    app_insights: str = ""
    container_registry: str = ""
    created: float = field(default_factory=time.time)
    computes: dict[str, Compute] = field(default_factory=dict)  # by lower-case name
    # fileShareName of the workspace's `workspaceworkingdirectory` datastore (AzureFile): the
    # notebooks share; Azure names it code-<guid>.
    working_share: str = NOTEBOOK_SHARE


@dataclass
class NamedResource:
    """A storage account, key vault or Log Analytics workspace, as far as ARM shows it.

    ``properties`` holds what the emulator enforces or reports: ``allowSharedKeyAccess``
    (storage), ``enableRbacAuthorization`` and ``accessPolicies`` (vault), ``customerId``
    (Log Analytics)."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    tenant_id: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class AsyncOperation:
    id: str
    subscription_id: str
    location: str
    workspace: tuple[str, str, str]
    compute: str
    polls_left: int
    status: str = "InProgress"
    kind: str = "put"  # put (create or update) or delete
    start: float = field(default_factory=time.time)
    end: float | None = None


class ArmBackend:
    """The resources ARM knows about, and the rules of reading and changing them."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, str] = {}  # lower-case id -> tenant id
        self.resource_groups: dict[tuple[str, str], ResourceGroup] = {}
        self.workspaces: dict[tuple[str, str, str], Workspace] = {}
        self.storage_accounts: dict[tuple[str, str, str], NamedResource] = {}
        self.vaults: dict[tuple[str, str, str], NamedResource] = {}
        self.log_analytics: dict[tuple[str, str, str], NamedResource] = {}
        # kind -> (table size when built, lower-case name -> resource); resources are never
        # removed one by one, so a size change is the only change that matters
        self._name_index: dict[str, tuple[int, dict[str, NamedResource]]] = {}
        self.operations: dict[str, AsyncOperation] = {}
        self.lro_polls = 1  # InProgress answers before an operation reports Succeeded
        self.lro_retry_after = 1  # seconds, sent as Retry-After while an operation runs
        self.denied: list[str] = []  # ARM id prefixes answered with 403 (runtime only)
        # subscription (lower-case) -> managing tenants whose tokens ARM accepts for it, as for
        # an Azure Lighthouse delegation
        self.delegations: dict[str, list[str]] = {}
        self.revision = 0

    def _changed(self) -> None:
        self.revision += 1

    # --- lookups with ARM's three kinds of "not found" -------------------------------------------
    def check_subscription(self, subscription_id: str) -> None:
        if subscription_id.lower() not in self.subscriptions:
            raise SubscriptionNotFound(subscription_id)

    def resource_group(self, subscription_id: str, name: str) -> ResourceGroup:
        self.check_subscription(subscription_id)
        group = self.resource_groups.get((subscription_id.lower(), name.lower()))
        if group is None:
            raise ResourceGroupNotFound(name)
        return group

    def workspace(self, subscription_id: str, resource_group: str, name: str) -> Workspace:
        self.resource_group(subscription_id, resource_group)
        ws = self.workspaces.get((subscription_id.lower(), resource_group.lower(), name.lower()))
        if ws is None:
            raise ResourceNotFound(WORKSPACE_TYPE, name, resource_group)
        return ws

    def list_workspaces(
        self, subscription_id: str, resource_group: str | None = None
    ) -> list[Workspace]:
        if resource_group is None:
            self.check_subscription(subscription_id)
        else:
            self.resource_group(subscription_id, resource_group)
        return [
            ws
            for key, ws in sorted(self.workspaces.items())
            if key[0] == subscription_id.lower()
            and (resource_group is None or key[1] == resource_group.lower())
        ]

    def _named(
        self,
        table: dict[tuple[str, str, str], NamedResource],
        rtype: str,
        subscription_id: str,
        resource_group: str,
        name: str,
    ) -> NamedResource:
        self.resource_group(subscription_id, resource_group)
        found = table.get((subscription_id.lower(), resource_group.lower(), name.lower()))
        if found is None:
            raise ResourceNotFound(rtype, name, resource_group)
        return found

    def storage_account(
        self, subscription_id: str, resource_group: str, name: str
    ) -> NamedResource:
        return self._named(
            self.storage_accounts,
            "Microsoft.Storage/storageAccounts",
            subscription_id,
            resource_group,
            name,
        )

    def _table(self, kind: str) -> dict[tuple[str, str, str], NamedResource]:
        tables = {
            "storage": self.storage_accounts,
            "vault": self.vaults,
            "loganalytics": self.log_analytics,
        }
        return tables[kind]

    def find_named(self, kind: str, name: str) -> NamedResource | None:
        """A storage account or vault by its globally unique name (any subscription)."""
        table = self._table(kind)
        index = self._name_index.get(kind)
        if index is None or index[0] != len(table):
            index = (len(table), {key[2]: res for key, res in table.items()})
            self._name_index[kind] = index
        return index[1].get(name.lower())

    def log_analytics_workspace(
        self, subscription_id: str, resource_group: str, name: str
    ) -> NamedResource:
        return self._named(
            self.log_analytics,
            "Microsoft.OperationalInsights/workspaces",
            subscription_id,
            resource_group,
            name,
        )

    def changed(self) -> None:
        """Record a change made to a resource's properties from outside this class."""
        self._changed()

    def vault(self, subscription_id: str, resource_group: str, name: str) -> NamedResource:
        return self._named(
            self.vaults, "Microsoft.KeyVault/vaults", subscription_id, resource_group, name
        )

    def compute(self, ws: Workspace, name: str) -> Compute:
        found = ws.computes.get(name.lower())
        if found is None:
            raise ResourceNotFound(f"{WORKSPACE_TYPE}/{ws.name}/computes", name, ws.resource_group)
        return found

    # --- seeding --------------------------------------------------------------------------------
    def ensure_resource_group(
        self, tenant_id: str, subscription_id: str, name: str, location: str
    ) -> ResourceGroup:
        if self.subscriptions.get(subscription_id.lower()) != tenant_id:
            self.subscriptions[subscription_id.lower()] = tenant_id
            self._changed()
        key = (subscription_id.lower(), name.lower())
        group = self.resource_groups.get(key)
        if group is None:
            group = self.resource_groups[key] = ResourceGroup(subscription_id, name, location)
            self._changed()
        return group

    def ensure_named(
        self,
        kind: str,
        tenant_id: str,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str,
    ) -> NamedResource:
        table = self._table(kind)
        key = (subscription_id.lower(), resource_group.lower(), name.lower())
        found = table.get(key)
        if found is None:
            found = table[key] = NamedResource(
                subscription_id, resource_group, name, location, tenant_id
            )
            self._changed()
        return found

    def ensure_workspace(self, ws: Workspace) -> Workspace:
        key = (ws.subscription_id.lower(), ws.resource_group.lower(), ws.name.lower())
        found = self.workspaces.get(key)
        if found is None:
            found = self.workspaces[key] = ws
            self._changed()
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
            polls_left=self.lro_polls,
        )
        self.operations[op.id] = op
        if op.polls_left <= 0:
            self._finish(op)
        self._changed()
        return compute, created, op

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
            polls_left=self.lro_polls,
            kind="delete",
        )
        self.operations[op.id] = op
        if op.polls_left <= 0:
            self._finish(op)
        self._changed()
        return op

    def poll(self, subscription_id: str, op_id: str) -> AsyncOperation:
        op = self.operations.get(op_id)
        if op is None or op.subscription_id.lower() != subscription_id.lower():
            raise ResourceNotFound(f"{ML_PROVIDER}/locations/computeOperationsStatus", op_id, "")
        if op.status == "InProgress":
            if op.polls_left <= 0:
                self._finish(op)
            else:
                op.polls_left -= 1
            self._changed()
        return op

    def _finish(self, op: AsyncOperation) -> None:
        op.status, op.end = "Succeeded", time.time()
        sub, group, name = op.workspace
        ws = self.workspaces.get((sub.lower(), group.lower(), name.lower()))
        if ws is not None:
            compute = ws.computes.get(op.compute.lower())
            if compute is not None and op.kind == "delete":
                del ws.computes[op.compute.lower()]
            elif compute is not None:
                compute.provisioning_state = "Succeeded"
                compute.state = "Running"

    def delegate(self, subscription_id: str, managing_tenant: str) -> None:
        managers = self.delegations.setdefault(subscription_id.lower(), [])
        if managing_tenant.lower() not in managers:
            managers.append(managing_tenant.lower())
            self._changed()

    def is_delegated(self, subscription_id: str, tenant_id: str) -> bool:
        return tenant_id.lower() in self.delegations.get(subscription_id.lower(), [])

    # --- denials ----------------------------------------------------------------------------------
    def deny(self, scope_prefix: str) -> None:
        self.denied.append(scope_prefix.rstrip("/").lower())

    def is_denied(self, resource_path: str) -> bool:
        path = resource_path.lower()
        return any(path == p or path.startswith(p + "/") for p in self.denied)

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
            computes = [Compute(**c) for c in raw["computes"]]
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
            op = AsyncOperation(**{**raw, "workspace": tuple(raw["workspace"])})
            self.operations[op.id] = op


def _key(raw: dict[str, Any]) -> tuple[str, str, str]:
    return (raw["subscription_id"].lower(), raw["resource_group"].lower(), raw["name"].lower())


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
