"""The inventory's value types: what a GUID, an alias, a vault name or a secret reference may be.

Each type is a pydantic `Annotated` alias with one validator; every pattern is applied with
`fullmatch` (with `match`, `$` also accepts a trailing newline).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from provision.inventory.compute_names import check_compute_name

_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Every pattern is applied with fullmatch: with match, `$` also accepts a trailing newline.
# Azure ML names a user's folder Users/<alias> after the part of the user principal name before the
# `@`. Entra allows A-Z a-z 0-9 and ' . - _ ! # ^ ~ there, up to 64 characters, no period or hyphen
# first (Microsoft Learn, "Invalid user name ... special character in Microsoft 365": the
# UserPrincipalName requirements). `@` stays allowed for folders named after a whole address.
# `#` is refused: in a share URL written by hand it starts a fragment and cuts the path short.
# A trailing period is refused too: Entra forbids it before the `@`, and the Files clients trim
# it unless told otherwise (ShareClientOptions.AllowTrailingDot, x-ms-version 2022-11-02), so
# `alice.` would land in `Users/alice`. Azure Files refuses `" \ / : | < > * ?` and control
# characters in names ("Naming and referencing shares, directories, files, and metadata").
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_'!^~](?:[A-Za-z0-9._@'!^~-]{0,62}[A-Za-z0-9_@'!^~-])?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
KV_SECRET_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
# `keyvault:NAME`: the secret is already in the tenant's vault; referenced, never pushed or pruned.
KEYVAULT_PREFIX = "keyvault:"
# Key Vault names: 3-24 chars, letters, digits and hyphens, start with a letter, end with a letter
# or digit, no consecutive hyphens (Microsoft Learn, "Key Vault names").
_VAULT_RE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
# Resource group: 1-90 chars of letters, digits, _ - . ( ), not ending with a period.
_RG_RE = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
# Azure ML workspace: 3-33 chars, alphanumerics, hyphens and underscores, starting alphanumeric.
_WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
# Log Analytics workspace: 4-63 letters, digits and hyphens, starting and ending with a letter or
# digit (Microsoft Learn, "Naming rules and restrictions for Azure resources",
# Microsoft.OperationalInsights/workspaces). The name is part of the ARM id msticpy builds.
_LAW_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$")
# Free text that ends up in files, terminals and notebooks: bounded, no control characters.
_MAX_TEXT = 256


def _guid(value: str) -> str:
    if not _GUID_RE.fullmatch(value):
        raise PydanticCustomError("guid", "not a GUID (expected 8-4-4-4-12 hex)")
    return value.lower()


def pattern(regex: re.Pattern[str], expected: str) -> Any:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise PydanticCustomError("pattern", f"invalid: expected {expected}")
        return value

    return AfterValidator(check)


def control_character(value: str) -> str | None:
    """The first character of `value` that a terminal or notebook would act on, shown escaped.

    C0 and C1 controls (ESC starts an ANSI sequence; CR, backspace and the others rewrite what
    a terminal shows), DEL, and the Unicode line and paragraph separators. None if there is none.
    """
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return repr(ch)[1:-1]
    return None


def _no_controls(value: str) -> str:
    bad = control_character(value)
    if bad is not None:
        raise PydanticCustomError(
            "text", f"contains the control character {bad} (terminal or ANSI escape); remove it"
        )
    return value


def _text(value: str) -> str:
    if len(value) > _MAX_TEXT:
        raise PydanticCustomError("text", f"longer than {_MAX_TEXT} characters")
    return _no_controls(value)


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
    if value.startswith(KEYVAULT_PREFIX):
        if not KV_SECRET_NAME_RE.fullmatch(value[len(KEYVAULT_PREFIX) :]):
            raise PydanticCustomError(
                "secret_ref",
                "keyvault: reference needs a Key Vault secret name (1-127 of letters, digits, '-')",
            )
        return value
    raise PydanticCustomError(
        "secret_ref",
        "secret values must be references (env:NAME or file:PATH), or keyvault:NAME for a "
        "secret already in the tenant's vault; never literal values",
    )


def _alias(value: str) -> str:
    if not value:
        raise PydanticCustomError("alias", "empty user alias")
    if any(ch in value for ch in ("/", "\\", "\x00")) or ".." in value or value.startswith("."):
        raise PydanticCustomError(
            "alias", "user alias could escape Users/ (no '/', '\\', '..', NUL or leading dot)"
        )
    _no_controls(value)
    if "#" in value:
        raise PydanticCustomError(
            "alias", "user alias with '#' is not supported (it cuts a share URL short)"
        )
    if not _ALIAS_RE.fullmatch(value):
        raise PydanticCustomError(
            "alias",
            "invalid user alias (1-64 of letters, digits and . _ @ - ' ! ^ ~, "
            "not starting with '.' or '-', not ending with '.')",
        )
    return value


def _number_as_text(value: Any) -> Any:
    """YAML reads `account_id: 123456` as a number; msticpy needs text (HTTP basic auth user)."""
    return str(value) if type(value) is int else value


def _maxmind_account(value: str) -> str:
    if not re.fullmatch(r"[0-9]{1,20}", value):
        raise PydanticCustomError("account_id", "not a MaxMind account ID (digits only)")
    return value


Guid = Annotated[str, AfterValidator(_guid)]
MaxMindAccountId = Annotated[
    str, BeforeValidator(_number_as_text), AfterValidator(_maxmind_account)
]
Text = Annotated[str, AfterValidator(_text)]
SecretRef = Annotated[str, AfterValidator(_secret_ref)]
Slug = Annotated[str, pattern(_SLUG_RE, "a lowercase slug (a-z, 0-9, '-', 1-63 chars)")]
Alias = Annotated[str, AfterValidator(_alias)]
VaultName = Annotated[
    str,
    pattern(_VAULT_RE, "a Key Vault name (3-24 letters, digits, hyphens; starts with a letter)"),
]
ResourceGroup = Annotated[
    str, pattern(_RG_RE, "a resource group name (1-90 of letters, digits, _ - . ( ))")
]
WorkspaceName = Annotated[
    str, pattern(_WORKSPACE_RE, "an Azure ML workspace name (3-33 letters, digits, '-', '_')")
]
LogAnalyticsName = Annotated[
    str,
    pattern(_LAW_RE, "a Log Analytics workspace name (4-63 letters, digits, '-'; not at the ends)"),
]
# Azure ML compute instance names: the rules live with the default in compute_names.
ComputeName = Annotated[str, AfterValidator(check_compute_name)]
SecretPrefix = Annotated[
    str,
    pattern(
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


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
