"""The inventory: one YAML file that describes every tenant of the fleet.

Loading merges `defaults` into every tenant (the tenant's own value wins, mappings merge key by key,
lists are replaced), validates the result with pydantic, and reports every problem at once as
`FILE:LINE: tenants[1].sentinel[0].workspace_id: not a GUID (expected 8-4-4-4-12 hex)`.
Secret values are never needed here: secret-bearing settings hold references (`env:NAME`,
`file:PATH`) that are resolved only by `validate --check-secrets`, plan and apply.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from provision.errors import Problem, UserInputError
from provision.yamlsource import PathKey, YamlDocument, load_yaml_text, read_text_bounded

# --- value types -------------------------------------------------------------------------------

_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Every pattern is applied with fullmatch: with match, `$` also accepts a trailing newline.
# Azure ML user folders are named after the user's alias; anything that could leave Users/ is out.
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_KV_SECRET_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
# Key Vault names: 3-24 chars, letters, digits and hyphens, start with a letter, end with a letter
# or digit, no consecutive hyphens (Microsoft Learn, "Key Vault names").
_VAULT_RE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
# Resource group: 1-90 chars of letters, digits, _ - . ( ), not ending with a period.
_RG_RE = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
# Azure ML workspace: 3-33 chars, alphanumerics, hyphens and underscores, starting alphanumeric.
_WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
# Azure ML compute instance: 3-24 chars, letters, digits and hyphens, starting with a letter.
_COMPUTE_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{1,22})[A-Za-z0-9]$")
# Free text that ends up in files: any printable text, bounded.
_MAX_TEXT = 256


def _guid(value: str) -> str:
    if not _GUID_RE.fullmatch(value):
        raise PydanticCustomError("guid", "not a GUID (expected 8-4-4-4-12 hex)")
    return value.lower()


def _pattern(regex: re.Pattern[str], expected: str) -> Any:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise PydanticCustomError("pattern", f"invalid: expected {expected}")
        return value

    return AfterValidator(check)


def _text(value: str) -> str:
    if len(value) > _MAX_TEXT:
        raise PydanticCustomError("text", f"longer than {_MAX_TEXT} characters")
    if "\x00" in value:
        raise PydanticCustomError("text", "contains a NUL character")
    return value


# Variables that hold the runner's or the tool's own credentials: an inventory (a pull request)
# must not be able to have apply copy them into a Key Vault it can read.
_CREDENTIAL_VARS = re.compile(
    r"(ACTIONS_.*|GITHUB_TOKEN|GH_TOKEN|RUNNER_.*|AZURE_CLIENT_SECRET|AZURE_CLIENT_CERTIFICATE.*"
    r"|AZURE_FEDERATED_TOKEN.*|AZURE_PASSWORD|AZURE_ACCESS_TOKEN|ARM_CLIENT_SECRET|ARM_OIDC_.*"
    r"|IDENTITY_(HEADER|ENDPOINT)|MSI_(SECRET|ENDPOINT)|SYSTEM_ACCESSTOKEN)",
    re.IGNORECASE,
)


def _secret_ref(value: str) -> str:
    # Never echo the value: a literal here is, by definition, a secret typed into the inventory.
    if value.startswith("env:"):
        name = value[4:]
        if not _ENV_NAME_RE.fullmatch(name):
            raise PydanticCustomError(
                "secret_ref", "env: reference needs a variable name ([A-Za-z_][A-Za-z0-9_]*)"
            )
        if _CREDENTIAL_VARS.fullmatch(name):
            raise PydanticCustomError(
                "secret_ref",
                "env: reference names a CI or Azure credential variable; refusing to push the "
                "runner's own credentials (use a variable of your own)",
            )
        return value
    if value.startswith("file:"):
        rest = value[5:]
        if not rest or "\x00" in rest or len(rest) > 1024:
            raise PydanticCustomError("secret_ref", "file: reference needs a path")
        return value
    raise PydanticCustomError(
        "secret_ref",
        "secret values must be references (env:NAME or file:PATH), never literal values",
    )


def _alias(value: str) -> str:
    if not value:
        raise PydanticCustomError("alias", "empty user alias")
    if any(ch in value for ch in ("/", "\\", "\x00")) or ".." in value or value.startswith("."):
        raise PydanticCustomError(
            "alias", "user alias could escape Users/ (no '/', '\\', '..', NUL or leading dot)"
        )
    if not _ALIAS_RE.fullmatch(value):
        raise PydanticCustomError(
            "alias", "invalid user alias (1-64 of letters, digits, '.', '_', '@', '-')"
        )
    return value


Guid = Annotated[str, AfterValidator(_guid)]
Text = Annotated[str, AfterValidator(_text)]
SecretRef = Annotated[str, AfterValidator(_secret_ref)]
Slug = Annotated[str, _pattern(_SLUG_RE, "a lowercase slug (a-z, 0-9, '-', 1-63 chars)")]
Alias = Annotated[str, AfterValidator(_alias)]
VaultName = Annotated[
    str,
    _pattern(_VAULT_RE, "a Key Vault name (3-24 letters, digits, hyphens; starts with a letter)"),
]
ResourceGroup = Annotated[
    str, _pattern(_RG_RE, "a resource group name (1-90 of letters, digits, _ - . ( ))")
]
WorkspaceName = Annotated[
    str, _pattern(_WORKSPACE_RE, "an Azure ML workspace name (3-33 letters, digits, '-', '_')")
]
ComputeName = Annotated[
    str, _pattern(_COMPUTE_RE, "a compute instance name (3-24 letters, digits, '-')")
]
SecretPrefix = Annotated[
    str,
    _pattern(
        re.compile(r"^[0-9A-Za-z](?:[0-9A-Za-z-]{0,62})$"),
        "a Key Vault secret-name prefix (letters, digits, '-', 1-63)",
    ),
]
AuthMethod = Literal[
    "env",
    "msi",
    "cli",
    "devicecode",
    "interactive",
    "vscode",
    "powershell",
    "clientsecret",
    "certificate",
]
ComponentAuthMethod = Literal["env", "msi", "cli", "interactive"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- sections ----------------------------------------------------------------------------------


class SentinelWorkspace(_Model):
    name: Annotated[
        str,
        _pattern(
            re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"),
            "a workspace key (letters, digits, '-', '_')",
        ),
    ]
    workspace_id: Guid
    workspace_name: WorkspaceName | Text
    subscription_id: Guid | None = None
    resource_group: ResourceGroup | None = None
    default: bool = False


class AuthKeyArgs(_Model):
    auth_key: SecretRef


class OptionalAuthKeyArgs(_Model):
    auth_key: SecretRef | None = None


class VirusTotalArgs(_Model):
    auth_key: SecretRef
    use_vt3_private_api: bool | None = None


class XForceArgs(_Model):
    api_id: SecretRef
    auth_key: SecretRef


class ApiIdArgs(_Model):
    api_id: Text
    auth_key: SecretRef


class AzureSentinelTIArgs(_Model):
    """Where the Sentinel TI provider finds ThreatIndicator (default: the default workspace)."""

    workspace_id: Guid | None = None
    tenant_id: Guid | None = None


class _Provider(_Model):
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


class TIProviders(_Model):
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


class GeoIP(_Model):
    provider: Literal["GeoLiteLookup", "IPStackLookup"]
    auth_key: SecretRef
    db_folder: Text | None = None

    @model_validator(mode="after")
    def _db_folder_only_for_geolite(self) -> GeoIP:
        if self.db_folder is not None and self.provider != "GeoLiteLookup":
            raise PydanticCustomError("geoip", "db_folder applies only to GeoLiteLookup")
        return self


class AzureCLIProvider(_Model):
    auth_methods: list[AuthMethod] | None = None
    client_id: Guid | None = None
    tenant_id: Guid | None = None
    client_secret: SecretRef | None = None


class AppProvider(_Model):
    """MicrosoftDefender / MicrosoftGraph: an Entra app registration."""

    client_id: Guid
    tenant_id: Guid | None = None  # defaults to the tenant's tenant_id
    client_secret: SecretRef
    user_name: Text | None = None


class SplunkProvider(_Model):
    host: Text
    username: Text | None = None
    password: SecretRef
    port: Annotated[int, Field(ge=1, le=65535)] | None = None


class DataProviders(_Model):
    AzureCLI: AzureCLIProvider | None = None
    MicrosoftDefender: AppProvider | None = None
    MicrosoftGraph: AppProvider | None = None
    Splunk: SplunkProvider | None = None


class QueryProviderLoad(_Model):
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
        Annotated[
            str, _pattern(re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"), "a Python identifier")
        ]
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


class EmptyComponent(_Model):
    pass


class GeoIpComponent(_Model):
    provider: Literal["GeoLiteLookup", "IPStackLookup"] = "GeoLiteLookup"


class AzureComponent(_Model):
    auth_methods: list[ComponentAuthMethod] | None = None
    connect: bool = True


class AzureSentinelAPIComponent(AzureComponent):
    res_id: Text | None = None


class NotebookletsComponent(_Model):
    workspace: Text = "Default"


class Components(_Model):
    TILookup: EmptyComponent | None = None
    GeoIpLookup: GeoIpComponent | None = None
    AzureData: AzureComponent | None = None
    AzureSentinelAPI: AzureSentinelAPIComponent | None = None
    Notebooklets: NotebookletsComponent | None = None
    Pivot: EmptyComponent | None = None


class Autoload(_Model):
    query_providers: list[QueryProviderLoad] = []
    components: Components = Components()


class User(_Model):
    alias: Alias
    compute: ComputeName | None = None
    object_id: Guid | None = None  # Entra object id: create-compute assigns the instance to it

    @model_validator(mode="before")
    @classmethod
    def _from_alias(cls, value: Any) -> Any:
        """A bare string in `users` is an alias; the compute name defaults from the alias."""
        if isinstance(value, str):
            value = {"alias": value}
        if isinstance(value, dict) and value.get("compute") is None:
            alias = value.get("alias")
            if isinstance(alias, str):
                value = {**value, "compute": default_compute_name(alias)}
        return value

    @property
    def compute_name(self) -> str:
        """The user's compute instance: as given, or derived from the alias."""
        return self.compute or default_compute_name(self.alias)


def default_compute_name(alias: str) -> str:
    """`alice.smith` -> `alice-smith-ci`: AML compute names are 3-24 of letters, digits, '-'."""
    base = re.sub(r"[^a-z0-9]+", "-", alias.lower()).strip("-") or "user"
    if not base[0].isalpha():
        base = "u" + base
    base = base[:21].rstrip("-")
    return f"{base}-ci"


class Tenant(_Model):
    name: Slug
    tenant_id: Guid
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

    @property
    def user_list(self) -> list[User]:
        return list(self.users)

    @property
    def default_workspace(self) -> SentinelWorkspace:
        return next(ws for ws in self.sentinel if ws.default)


class Inventory(_Model):
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
            Problem(f"no tenant named {n!r}{_did_you_mean(n, list(known))}", file=str(self.path))
            for n in names
            if n not in known
        ]
        if problems:
            raise UserInputError(problems)
        return [known[n] for n in dict.fromkeys(names)]


# --- loading -----------------------------------------------------------------------------------

_TOP_KEYS = ("version", "defaults", "tenants")


def load_inventory(path: str | Path) -> Inventory:
    """Read, merge and validate an inventory file; raise UserInputError listing every problem."""
    p = Path(path)
    text = read_text_bounded(p, "inventory")
    return load_inventory_text(text, p)


def load_inventory_text(text: str, path: Path) -> Inventory:
    """Validate inventory text as if it were the file at `path` (used for git history, too)."""
    doc = load_yaml_text(text, str(path))
    raw = doc.data
    problems: list[Problem] = []

    def at(loc: PathKey, message: str) -> Problem:
        return Problem(message, file=str(path), line=doc.line_of(loc), path=_dotted(loc) or None)

    if not isinstance(raw, dict):
        raise UserInputError([at((), "the inventory must be a mapping with version and tenants")])
    for key in raw:
        if key not in _TOP_KEYS:
            problems.append(at((key,), f"unknown key{_did_you_mean(str(key), list(_TOP_KEYS))}"))
    if type(raw.get("version")) is not int or raw["version"] != 1:  # not true, not 1.0
        problems.append(at(("version",), "version must be 1"))
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(at(("defaults",), "defaults must be a mapping"))
        defaults = {}
    for key in list(defaults):
        if key == "name" or key not in Tenant.model_fields:
            problems.append(
                at(("defaults", key), f"unknown key{_did_you_mean(str(key), _tenant_keys())}")
            )
            defaults = {k: v for k, v in defaults.items() if k != key}  # reported once, here
    raw_tenants = raw.get("tenants")
    if not isinstance(raw_tenants, list) or not raw_tenants:
        problems.append(at(("tenants",), "tenants must be a non-empty list"))
        raise UserInputError(problems)

    tenants: list[Tenant] = []
    for index, entry in enumerate(raw_tenants):
        if not isinstance(entry, dict):
            problems.append(at(("tenants", index), "each tenant must be a mapping"))
            continue
        merged = _merge(defaults, entry)
        try:
            tenant = Tenant.model_validate(merged)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, index, entry, doc, path))
            continue
        tenant_problems = _tenant_rules(tenant)
        problems.extend(at(("tenants", index, *loc), msg) for loc, msg in tenant_problems)
        tenants.append(tenant)

    seen: dict[str, int] = {}
    for index, entry in enumerate(raw_tenants):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    at(
                        ("tenants", index, "name"),
                        f"duplicate tenant name {name!r} (also tenants[{seen[name]}])",
                    )
                )
            else:
                seen[name] = index
    if not problems:
        problems.extend(_fleet_rules(tenants, path, doc))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise UserInputError(problems)
    return Inventory(path=path, version=1, tenants=tenants)


def _tenant_keys() -> list[str]:
    return [k for k in Tenant.model_fields if k != "name"]


def _merge(defaults: Any, own: Any) -> Any:
    """Deep-merge `own` over `defaults`: mappings merge, everything else is replaced."""
    if isinstance(defaults, dict) and isinstance(own, dict):
        merged = copy.deepcopy(defaults)
        for key, value in own.items():
            merged[key] = _merge(defaults[key], value) if key in defaults else value
        return merged
    return own


def _tenant_rules(t: Tenant) -> list[tuple[PathKey, str]]:
    """Rules that span fields of one tenant."""
    out: list[tuple[PathKey, str]] = []
    defaults = [i for i, ws in enumerate(t.sentinel) if ws.default]
    if len(defaults) != 1:
        out.append(
            (
                ("sentinel",),
                f"exactly one workspace must have default: true (found {len(defaults)})",
            )
        )
    names = [ws.name for ws in t.sentinel]
    for i, name in enumerate(names):
        if name == "Default":
            out.append(
                (
                    ("sentinel", i, "name"),
                    "'Default' is reserved: mark the default workspace with default: true",
                )
            )
        elif name in names[:i]:
            out.append((("sentinel", i, "name"), f"duplicate Sentinel workspace name {name!r}"))
    ws_names = {*names, "Default"}
    for i, qp in enumerate(t.autoload.query_providers):
        if qp.provider == "AzureSentinel" and qp.workspace not in ws_names:
            out.append(
                (
                    ("autoload", "query_providers", i, "workspace"),
                    f"names no Sentinel workspace of this tenant (known: "
                    f"{', '.join(sorted(ws_names))})",
                )
            )
        if (
            qp.provider in DataProviders.model_fields
            and getattr(t.data_providers, qp.provider) is None
        ):
            out.append(
                (
                    ("autoload", "query_providers", i, "provider"),
                    f"{qp.provider} is not configured under data_providers",
                )
            )
    comps = t.autoload.components
    if comps.Notebooklets is not None and comps.Notebooklets.workspace not in ws_names:
        out.append(
            (
                ("autoload", "components", "Notebooklets", "workspace"),
                "names no Sentinel workspace of this tenant",
            )
        )
    if comps.GeoIpLookup is not None:
        if t.geoip is None:
            out.append(
                (
                    ("autoload", "components", "GeoIpLookup"),
                    "GeoIpLookup is autoloaded but no geoip provider is configured",
                )
            )
        elif t.geoip.provider != comps.GeoIpLookup.provider:
            out.append(
                (
                    ("autoload", "components", "GeoIpLookup", "provider"),
                    f"names {comps.GeoIpLookup.provider} but geoip configures {t.geoip.provider}",
                )
            )
    if comps.TILookup is not None and not t.ti_providers.model_dump(exclude_none=True):
        out.append(
            (
                ("autoload", "components", "TILookup"),
                "TILookup is autoloaded but no ti_providers are configured",
            )
        )
    aliases = [u.alias for u in t.user_list]
    for i, alias in enumerate(aliases):
        if alias.casefold() in (a.casefold() for a in aliases[:i]):
            out.append((("users", i), f"duplicate user alias {alias!r}"))
    computes = [u.compute_name for u in t.user_list]
    for i, name in enumerate(computes):
        if name in computes[:i]:
            out.append(
                (
                    ("users", i),
                    f"compute instance name {name!r} is used twice; set compute: for this user",
                )
            )
    from provision.mapping import secret_pushes  # the names msticpy will look up

    for push in secret_pushes(t):
        if not _KV_SECRET_NAME_RE.fullmatch(push.name):
            out.append(
                (
                    ("secret_prefix",),
                    f"Key Vault secret name {push.name!r} is invalid "
                    "(1-127 of letters, digits and '-')",
                )
            )
    return out


def _fleet_rules(tenants: list[Tenant], path: Path, doc: YamlDocument) -> list[Problem]:
    """Two tenants sharing a vault must not write the same secret name from different sources."""
    from provision.mapping import secret_pushes

    owners: dict[tuple[str, str], tuple[str, str]] = {}
    problems: list[Problem] = []
    for index, t in enumerate(tenants):
        for push in secret_pushes(t):
            key = (push.vault.lower(), push.name.lower())
            if key in owners and owners[key][1] != push.source:
                problems.append(
                    Problem(
                        f"secret {push.name!r} in vault {push.vault!r} is also written by tenant "
                        f"{owners[key][0]!r} from another source; set secret_prefix on one of them",
                        file=str(path),
                        line=doc.line_of(("tenants", index)),
                        path=f"tenants[{index}]",
                    )
                )
            owners.setdefault(key, (t.name, push.source))
    return problems


def _pydantic_problems(
    exc: ValidationError, index: int, own: dict[str, Any], doc: YamlDocument, path: Path
) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = _clean_loc(err["loc"])
        if err["type"] == "extra_forbidden" and err["loc"]:
            # The unknown key itself, verbatim (_clean_loc would drop a key such as "a[0]").
            loc = (*_clean_loc(err["loc"][:-1]), err["loc"][-1])
        # Where did the offending value come from: the tenant itself or the defaults?
        origin: PathKey = ("tenants", index, *loc)
        if loc and loc[0] not in own and ("defaults", loc[0]) in doc.lines:
            origin = ("defaults", *loc)
        message = _message(err, loc)
        if err["type"] == "extra_forbidden":
            problems.append(
                Problem(message, file=str(path), line=doc.line_of(origin), path=_dotted(origin))
            )
        else:
            problems.append(
                Problem(message, file=str(path), line=doc.line_of(origin), path=_dotted(origin))
            )
    return problems


def _clean_loc(loc: tuple[int | str, ...]) -> PathKey:
    """Drop pydantic's union-branch labels (e.g. 'str', 'User', 'function-after[...]')."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            part in {"str", "User", "int", "bool", "list", "dict"}
            or "[" in part
            or part.startswith("function-")
        ):
            continue
        out.append(part)
    return tuple(out)


def _message(err: Any, loc: PathKey) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        choices = list(parent.model_fields) if parent else []
        return f"unknown key{_did_you_mean(str(loc[-1]), choices)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"not one of the allowed values: {expected}"
    if kind in {
        "string_type",
        "bool_type",
        "int_type",
        "list_type",
        "model_type",
        "dict_type",
        "bool_parsing",
        "int_parsing",
        "model_attributes_type",
    }:
        return {
            "string_type": "must be a string",
            "bool_type": "must be true or false",
            "bool_parsing": "must be true or false",
            "int_type": "must be a whole number",
            "int_parsing": "must be a whole number",
            "list_type": "must be a list",
            "model_type": "must be a mapping",
            "dict_type": "must be a mapping",
            "model_attributes_type": "must be a mapping",
        }[kind]
    if kind == "too_short":
        return "must not be empty"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _model_at(loc: PathKey) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at `loc` inside a tenant."""
    model: type[BaseModel] = Tenant
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = _models_in(field.annotation)
        if not nested:
            return None
        model = nested[0]
    return model


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is Annotated:
        found.extend(_models_in(annotation.__origin__))
    return found


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(loc: PathKey) -> str:
    out = ""
    for part in loc:
        text = str(part)
        if not text.isprintable():  # a key with control characters must not reach a terminal raw
            text = repr(text)
        out += f"[{part}]" if isinstance(part, int) else (f".{text}" if out else text)
    return out
