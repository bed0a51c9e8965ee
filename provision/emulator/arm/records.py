"""ARM's resources as plain records: resource groups, ML workspaces and their compute
instances, the storage accounts, vaults and Log Analytics workspaces ARM shows, and long-running
operations; with the resource type names they are reported under. No rules and no HTTP here:
the rules are `resource_backend` and `models`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COMPUTE_TYPE",
    "ML_PROVIDER",
    "NOTEBOOK_SHARE",
    "WORKSPACE_TYPE",
    "AsyncOperation",
    "Compute",
    "NamedResource",
    "ResourceGroup",
    "Workspace",
]

ML_PROVIDER = "Microsoft.MachineLearningServices"
WORKSPACE_TYPE = f"{ML_PROVIDER}/workspaces"
COMPUTE_TYPE = f"{ML_PROVIDER}/workspaces/computes"
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
    # ComputeInstanceProperties (2025-12-01): as given at creation or by updateIdleShutdownSetting
    idle_time_before_shutdown: str | None = None
    schedules: dict[str, Any] | None = None
    enable_sso: bool | None = None
    tags: dict[str, str] = field(default_factory=dict)
    identity: dict[str, Any] | None = None
    # why the create failed (code, message), for an instance in CreateFailed
    error: tuple[str, str] | None = None


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
    # seconds after `start` at which the operation has finished, whether or not anyone polls
    duration: float
    status: str = "InProgress"
    kind: str = "put"  # put (create or update) or delete
    start: float = field(default_factory=time.time)
    end: float | None = None
    # the error the operation ends with (code, message); None: it succeeds
    error: tuple[str, str] | None = None

    @property
    def due(self) -> bool:
        return self.status == "InProgress" and time.time() >= self.start + self.duration
