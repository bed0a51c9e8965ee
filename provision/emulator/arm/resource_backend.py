"""ARM backend, the resources: subscriptions, resource groups, ML workspaces and the storage
accounts, vaults and Log Analytics workspaces they point at. No HTTP here.

Rules kept from ARM: names are case-insensitive; a missing subscription, resource group and
resource are three different errors. Seeding is idempotent; a subscription may be delegated to
managing tenants (as by Azure Lighthouse); ARM id prefixes may be denied (answered with 403).
Compute instances and their long-running operations are `models.ArmBackend`'s.
"""

from __future__ import annotations

from provision.emulator.arm.exceptions import (
    ResourceGroupNotFound,
    ResourceNotFound,
    SubscriptionNotFound,
)
from provision.emulator.arm.records import (
    WORKSPACE_TYPE,
    NamedResource,
    ResourceGroup,
    Workspace,
)

__all__ = ["ResourceBackend"]


class ResourceBackend:
    """The resources ARM knows about, other than computes, and the rules of reading them."""

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
