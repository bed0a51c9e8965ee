"""The inventory model: a tenant, its Sentinel workspaces, providers, users; the fleet.

Values are checked by the types in `provision.inventory.fields`; rules that span fields live in
`provision.inventory.rules`, loading and error translation in `provision.inventory.load`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SkipValidation, field_validator, model_validator
from pydantic_core import PydanticCustomError

from provision.errors import Problem, UserInputError, did_you_mean
from provision.inventory.compute_names import fill_default_compute_names
from provision.inventory.compute_policy import ComputePolicy, merge_policies
from provision.inventory.expiry import SecretExpiry, SecretSource
from provision.inventory.fields import (
    Alias,
    AuthMethod,
    ComponentAuthMethod,
    ComputeName,
    FrozenModel,
    Guid,
    LogAnalyticsName,
    MaxMindAccountId,
    ResourceGroup,
    SecretPrefix,
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
    workspace_name: LogAnalyticsName
    # Where the Log Analytics workspace lives; when left out, the tenant's (the ML workspace's)
    # subscription and resource group. Rendered into every place msticpy reads them and checked
    # against ARM by plan.
    subscription_id: Guid | None = None
    resource_group: ResourceGroup | None = None
    default: bool = False


class AuthKeyArgs(FrozenModel):
    auth_key: SecretSource


class OptionalAuthKeyArgs(FrozenModel):
    auth_key: SecretSource | None = None


class VirusTotalArgs(FrozenModel):
    auth_key: SecretSource
    use_vt3_private_api: bool | None = None


class XForceArgs(FrozenModel):
    api_id: SecretSource
    auth_key: SecretSource


class ApiIdArgs(FrozenModel):
    api_id: Text
    auth_key: SecretSource


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
    auth_key: SecretSource
    # MaxMind account ID: GeoLiteLookup (msticpy >= 2.14) downloads its database with HTTP basic
    # auth, user AccountID and password AuthKey (msticpy/context/geoip.py); without it the
    # download fails and GeoIP never works on a fresh compute instance.
    account_id: MaxMindAccountId | None = None
    db_folder: Text | None = None

    @model_validator(mode="after")
    def _geolite_fields(self) -> GeoIP:
        if self.provider == "GeoLiteLookup" and self.account_id is None:
            raise PydanticCustomError(
                "geoip",
                "GeoLiteLookup needs account_id: msticpy downloads the MaxMind database with "
                "the account ID as user and auth_key as password",
            )
        if self.provider != "GeoLiteLookup":
            if self.db_folder is not None:
                raise PydanticCustomError("geoip", "db_folder applies only to GeoLiteLookup")
            if self.account_id is not None:
                raise PydanticCustomError("geoip", "account_id applies only to GeoLiteLookup")
        return self


class AzureCLIProvider(FrozenModel):
    """A service principal msticpy exports as AZURE_CLIENT_* when `env` is an auth method."""

    client_id: Guid
    tenant_id: Guid | None = None  # defaults to the tenant's tenant_id
    client_secret: SecretSource
    auth_methods: Any = None  # refused with a pointer to where msticpy reads them

    @field_validator("auth_methods")
    @classmethod
    def _not_read_here(cls, value: Any) -> Any:
        raise PydanticCustomError(
            "auth_methods",
            "msticpy never reads AzureCLI auth_methods; set the tenant's azure_auth_methods "
            "(rendered as Azure.auth_methods, which msticpy reads)",
        )


class AppProvider(FrozenModel):
    """MicrosoftDefender / MicrosoftGraph: an Entra app registration."""

    client_id: Guid
    tenant_id: Guid | None = None  # defaults to the tenant's tenant_id
    client_secret: SecretSource
    user_name: Text | None = None


class SplunkProvider(FrozenModel):
    host: Text
    username: Text | None = None
    password: SecretSource
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
    auth_methods: list[ComponentAuthMethod]
    connect: bool = True

    @model_validator(mode="before")
    @classmethod
    def _auth_methods_required(cls, value: Any) -> Any:
        if isinstance(value, dict) and "auth_methods" not in value:
            raise PydanticCustomError(
                "auth_methods",
                "auth_methods is required: msticpy's settings schema requires it for this "
                "component (a list of env, msi, cli, interactive)",
            )
        return value


class AzureSentinelAPIComponent(AzureComponent):
    res_id: Text | None = None


class NotebookletsComponent(FrozenModel):
    workspace: Text = "Default"


class Components(FrozenModel):
    """The components msticpy's loader builds (msticpy/init/user_config.py, COMP_LOADERS)."""

    TILookup: EmptyComponent | None = None
    GeoIpLookup: GeoIpComponent | None = None
    AzureData: AzureComponent | None = None
    AzureSentinelAPI: AzureSentinelAPIComponent | None = None
    Notebooklets: NotebookletsComponent | None = None
    Pivot: Any = None  # refused: msticpy has no loader for it

    @field_validator("Pivot")
    @classmethod
    def _no_pivot_loader(cls, value: Any) -> Any:
        raise PydanticCustomError(
            "autoload",
            "msticpy has no Pivot loader and ignores it (init_notebook loads pivots itself); "
            "remove Pivot",
        )


class Autoload(FrozenModel):
    query_providers: list[QueryProviderLoad] = Field(default_factory=list)
    components: Components = Components()


class User(FrozenModel):
    alias: Alias
    # As given, or derived by the tenant (compute_names.default_compute_name) before validation.
    compute: ComputeName | None = None
    object_id: Guid | None = None  # Entra object id: create-compute assigns the instance to it
    # What the object id is: --grant-access sends it as the role assignment's principalType, and
    # ARM refuses a mismatch (400 UnmatchedPrincipalType).
    principal_type: Literal["User", "Group", "ServicePrincipal"] = "User"
    # merged over the tenant's compute_policy (provision.inventory.compute_policy)
    compute_policy: ComputePolicy | None = None

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
    # The application (client) id `--auth github-oidc` signs in as in this tenant (the app with a
    # federated credential for the workflow); else the job's AZURE_CLIENT_ID.
    auth_client_id: Guid | None = None
    subscription_id: Guid
    resource_group: ResourceGroup
    ml_workspace: WorkspaceName
    key_vault: VaultName
    # The Entra tenant of the vault, where it is not the tenant's own (an MSSP's shared vault,
    # each customer's secrets under its secret_prefix): Key Vault accepts only tokens of the
    # vault's tenant (AKV10032), so its tokens are asked for there.
    key_vault_tenant_id: Guid | None = None
    cloud: Literal["global", "usgov", "cn"] = "global"
    # absent: offboard the tenant (apply removes every secret and file the tool wrote for it);
    # such an entry needs only its coordinates (provision.inventory.rules.absent_tenant_fill).
    state: Literal["present", "absent"] = "present"
    sentinel: list[SentinelWorkspace]
    ti_providers: TIProviders = TIProviders()
    geoip: GeoIP | None = None
    data_providers: DataProviders = DataProviders()
    autoload: Autoload = Autoload()
    secret_store: Literal["keyvault", "env"] = "keyvault"  # noqa: S105 (a mode, not a secret)
    secret_prefix: SecretPrefix | None = None
    # When the tenant's secrets expire (provision.inventory.expiry); a reference may carry its own.
    secret_expiry: SecretExpiry | None = None
    kernel_mode: Literal["kernel", "nbuser"] = "kernel"
    use_keyring: bool = False
    azure_auth_methods: list[AuthMethod] | None = None
    users: list[User]  # may be empty: the tenant's files and secrets, no user folders yet
    # Any further msticpy settings, in msticpy's own structure (provision.msticpy_contract.block).
    msticpy: dict[str, Any] = Field(default_factory=dict)
    # How the users' compute instances are set up (provision.inventory.compute_policy).
    compute_policy: ComputePolicy = ComputePolicy()

    @model_validator(mode="before")
    @classmethod
    def _default_compute_names(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("state") == "absent":
            # An offboarded tenant needs only its coordinates.
            value = {"sentinel": [], "users": [], **value}
        return fill_default_compute_names(value)

    @property
    def absent(self) -> bool:
        return self.state == "absent"

    @property
    def user_list(self) -> list[User]:
        return list(self.users)

    def policy_for(self, user: User) -> ComputePolicy:
        """The user's compute policy: theirs merged over the tenant's (itself over defaults)."""
        return merge_policies(self.compute_policy, user.compute_policy)

    @property
    def default_workspace(self) -> SentinelWorkspace:
        return next(ws for ws in self.sentinel if ws.default)


class Inventory(FrozenModel):
    path: Path
    version: Literal[1]
    tenants: list[Tenant]
    # Settings that load but do not do what they say (validate prints them; exit code stays 0).
    warnings: tuple[Problem, ...] = ()
    # Line of each node of the file, by path (tenants, 0, sentinel, 1, ...): for problems found
    # after loading (plan's checks against Azure) to name the inventory line.
    lines: Annotated[dict[tuple[str | int, ...], int], SkipValidation] = Field(
        default_factory=dict, repr=False
    )

    def problem_at(self, t: Tenant, loc: tuple[str | int, ...], message: str) -> Problem:
        """A problem with tenant `t` at `loc` inside it, located at the deepest line known (the
        tenant's own entry first, then the defaults it inherited)."""
        index = next(i for i, known in enumerate(self.tenants) if known is t or known == t)
        for end in range(len(loc), -1, -1):
            bases: tuple[tuple[str | int, ...], ...] = (("tenants", index),)
            if end:
                bases += (("defaults",),)
            for base in bases:
                path = (*base, *loc[:end])
                if path in self.lines:
                    dotted = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", ".".join(map(str, path)))
                    return Problem(message, file=str(self.path), line=self.lines[path], path=dotted)
        return Problem(message, file=str(self.path), path=f"tenants[{index}]")

    def warning_lines(self) -> list[str]:
        """`warning: FILE:LINE: path: message`, one line per warning."""
        return [f"warning: {w}" for w in self.warnings]

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
