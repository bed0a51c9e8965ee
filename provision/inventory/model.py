"""The inventory model: a tenant, its Sentinel workspaces, providers, users; the fleet.

Values are checked by the types in `provision.inventory.fields`; rules that span fields live in
`provision.inventory.rules`, loading and error translation in `provision.inventory.load`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from provision.errors import Problem, UserInputError, did_you_mean
from provision.inventory.compute_names import fill_default_compute_names
from provision.inventory.fields import (
    Alias,
    AuthMethod,
    ComponentAuthMethod,
    ComputeName,
    FrozenModel,
    Guid,
    ResourceGroup,
    SecretPrefix,
    SecretRef,
    Slug,
    Text,
    VaultName,
    WorkspaceName,
    pattern,
)

# --- sections ----------------------------------------------------------------------------------


class SentinelWorkspace(FrozenModel):
    name: Annotated[
        str,
        pattern(
            re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"),
            "a workspace key (letters, digits, '-', '_')",
        ),
    ]
    workspace_id: Guid
    workspace_name: WorkspaceName | Text
    subscription_id: Guid | None = None
    resource_group: ResourceGroup | None = None
    default: bool = False


class AuthKeyArgs(FrozenModel):
    auth_key: SecretRef


class OptionalAuthKeyArgs(FrozenModel):
    auth_key: SecretRef | None = None


class VirusTotalArgs(FrozenModel):
    auth_key: SecretRef
    use_vt3_private_api: bool | None = None


class XForceArgs(FrozenModel):
    api_id: SecretRef
    auth_key: SecretRef


class ApiIdArgs(FrozenModel):
    api_id: Text
    auth_key: SecretRef


class AzureSentinelTIArgs(FrozenModel):
    """Where the Sentinel TI provider finds ThreatIndicator (default: the default workspace)."""

    workspace_id: Guid | None = None
    tenant_id: Guid | None = None


class _Provider(FrozenModel):
    primary: bool | None = None


class KeyProvider(_Provider):
    args: AuthKeyArgs


class VirusTotalProvider(_Provider):
    args: VirusTotalArgs


class XForceProvider(_Provider):
    args: XForceArgs


class ApiIdProvider(_Provider):
    args: ApiIdArgs


class GreyNoiseProvider(_Provider):
    args: OptionalAuthKeyArgs = OptionalAuthKeyArgs()


class AzureSentinelTIProvider(_Provider):
    args: AzureSentinelTIArgs = AzureSentinelTIArgs()


class NoArgsProvider(_Provider):
    pass


class TIProviders(FrozenModel):
    """msticpy's threat-intelligence providers, by msticpy's section names."""

    VirusTotal: VirusTotalProvider | None = None
    OTX: KeyProvider | None = None
    XForce: XForceProvider | None = None
    GreyNoise: GreyNoiseProvider | None = None
    AzureSentinel: AzureSentinelTIProvider | None = None
    OpenPageRank: KeyProvider | None = None
    RiskIQ: ApiIdProvider | None = None
    IntSights: ApiIdProvider | None = None
    Pulsedive: KeyProvider | None = None
    IPQualityScore: KeyProvider | None = None
    BinaryEdge: KeyProvider | None = None
    AbuseIPDB: KeyProvider | None = None
    TorExitNodes: NoArgsProvider | None = None


class GeoIP(FrozenModel):
    provider: Literal["GeoLiteLookup", "IPStackLookup"]
    auth_key: SecretRef
    db_folder: Text | None = None

    @model_validator(mode="after")
    def _db_folder_only_for_geolite(self) -> GeoIP:
        if self.db_folder is not None and self.provider != "GeoLiteLookup":
            raise PydanticCustomError("geoip", "db_folder applies only to GeoLiteLookup")
        return self


class AzureCLIProvider(FrozenModel):
    auth_methods: list[AuthMethod] | None = None
    client_id: Guid | None = None
    tenant_id: Guid | None = None
    client_secret: SecretRef | None = None


class AppProvider(FrozenModel):
    """MicrosoftDefender / MicrosoftGraph: an Entra app registration."""

    client_id: Guid
    tenant_id: Guid | None = None  # defaults to the tenant's tenant_id
    client_secret: SecretRef
    user_name: Text | None = None


class SplunkProvider(FrozenModel):
    host: Text
    username: Text | None = None
    password: SecretRef
    port: Annotated[int, Field(ge=1, le=65535)] | None = None


class DataProviders(FrozenModel):
    AzureCLI: AzureCLIProvider | None = None
    MicrosoftDefender: AppProvider | None = None
    MicrosoftGraph: AppProvider | None = None
    Splunk: SplunkProvider | None = None


class QueryProviderLoad(FrozenModel):
    provider: Literal[
        "AzureSentinel",
        "MicrosoftDefender",
        "MicrosoftGraph",
        "Splunk",
        "LocalData",
        "Mordor",
        "Kusto",
    ]
    workspace: Text | None = None
    alias: (
        Annotated[str, pattern(re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"), "a Python identifier")]
        | None
    ) = None
    connect: bool = True

    @model_validator(mode="after")
    def _workspace_for_sentinel(self) -> QueryProviderLoad:
        if self.provider == "AzureSentinel" and not self.workspace:
            raise PydanticCustomError("autoload", "AzureSentinel needs a workspace")
        if self.provider != "AzureSentinel" and self.workspace:
            raise PydanticCustomError("autoload", "workspace applies only to AzureSentinel")
        return self


class EmptyComponent(FrozenModel):
    pass


class GeoIpComponent(FrozenModel):
    provider: Literal["GeoLiteLookup", "IPStackLookup"] = "GeoLiteLookup"


class AzureComponent(FrozenModel):
    auth_methods: list[ComponentAuthMethod] | None = None
    connect: bool = True


class AzureSentinelAPIComponent(AzureComponent):
    res_id: Text | None = None


class NotebookletsComponent(FrozenModel):
    workspace: Text = "Default"


class Components(FrozenModel):
    TILookup: EmptyComponent | None = None
    GeoIpLookup: GeoIpComponent | None = None
    AzureData: AzureComponent | None = None
    AzureSentinelAPI: AzureSentinelAPIComponent | None = None
    Notebooklets: NotebookletsComponent | None = None
    Pivot: EmptyComponent | None = None


class Autoload(FrozenModel):
    query_providers: list[QueryProviderLoad] = Field(default_factory=list)
    components: Components = Components()


class User(FrozenModel):
    alias: Alias
    # As given, or derived by the tenant (compute_names.default_compute_name) before validation.
    compute: ComputeName | None = None
    object_id: Guid | None = None  # Entra object id: create-compute assigns the instance to it

    @model_validator(mode="before")
    @classmethod
    def _from_alias(cls, value: Any) -> Any:
        """A bare string in `users` is an alias."""
        return {"alias": value} if isinstance(value, str) else value

    @property
    def compute_name(self) -> str:
        """The user's compute instance: as given, or the tenant-specific default."""
        if self.compute is None:
            raise ValueError(f"user {self.alias!r} has no compute name: validate it in a Tenant")
        return self.compute


class Tenant(FrozenModel):
    name: Slug
    tenant_id: Guid
    # The Entra tenant to request tokens from, when it is not the customer's own: an MSSP's
    # managing tenant for Lighthouse-delegated subscriptions.
    auth_tenant_id: Guid | None = None
    subscription_id: Guid
    resource_group: ResourceGroup
    ml_workspace: WorkspaceName
    key_vault: VaultName
    cloud: Literal["global", "usgov", "cn"] = "global"
    sentinel: Annotated[list[SentinelWorkspace], Field(min_length=1)]
    ti_providers: TIProviders = TIProviders()
    geoip: GeoIP | None = None
    data_providers: DataProviders = DataProviders()
    autoload: Autoload = Autoload()
    secret_store: Literal["keyvault", "env"] = "keyvault"  # noqa: S105 (a mode, not a secret)
    secret_prefix: SecretPrefix | None = None
    kernel_mode: Literal["kernel", "nbuser"] = "kernel"
    use_keyring: bool = False
    azure_auth_methods: list[AuthMethod] | None = None
    users: Annotated[list[User], Field(min_length=1)]
    # Any further msticpy settings, in msticpy's own structure (provision.msticpy_contract.block).
    msticpy: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_compute_names(cls, value: Any) -> Any:
        return fill_default_compute_names(value)

    @property
    def user_list(self) -> list[User]:
        return list(self.users)

    @property
    def default_workspace(self) -> SentinelWorkspace:
        return next(ws for ws in self.sentinel if ws.default)


class Inventory(FrozenModel):
    path: Path
    version: Literal[1]
    tenants: list[Tenant]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def select(self, names: list[str]) -> list[Tenant]:
        """The named tenants (all when `names` is empty); unknown names are a user error."""
        if not names:
            return list(self.tenants)
        known = {t.name: t for t in self.tenants}
        problems = [
            Problem(f"no tenant named {n!r}{did_you_mean(n, list(known))}", file=str(self.path))
            for n in names
            if n not in known
        ]
        if problems:
            raise UserInputError(problems)
        return [known[n] for n in dict.fromkeys(names)]
