"""Rules that span fields of one tenant, or tenants of the fleet (run after the model accepts each
tenant). Secret names come from the msticpy contract: they are the names msticpy will look up.
"""

from __future__ import annotations

from pathlib import Path

from provision.errors import Problem
from provision.inventory.compute_policy import kernel_pin_problems
from provision.inventory.fields import KV_SECRET_NAME_RE
from provision.inventory.model import DataProviders, Tenant
from provision.msticpy_contract.block import is_msticpy_reference, walk
from provision.msticpy_contract.block_rules import block_problems
from provision.msticpy_contract.secret_names import secret_pushes, secret_settings, vault_secret
from provision.yamlsource import PathKey, YamlDocument


def tenant_rules(t: Tenant) -> list[tuple[PathKey, str]]:
    """Rules that span fields of one tenant (none for an absent tenant: only its coordinates
    are used)."""
    out: list[tuple[PathKey, str]] = []
    if t.absent:
        return out
    if not t.sentinel:
        return [
            (
                ("sentinel",),
                "at least one Sentinel workspace is required (only a tenant with state: absent "
                "may leave sentinel out)",
            )
        ]
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
    out.extend(auth_rules(t))
    for push in secret_pushes(t):
        if not KV_SECRET_NAME_RE.fullmatch(push.name):
            out.append(
                (
                    ("secret_prefix",),
                    f"Key Vault secret name {push.name!r} is invalid "
                    "(1-127 of letters, digits and '-')",
                )
            )
    out.extend(block_problems(t))
    out.extend(kernel_pin_problems(t))
    out.extend(_vault_sources_need_the_vault(t))
    return out


def _vault_sources_need_the_vault(t: Tenant) -> list[tuple[PathKey, str]]:
    """A `keyvault:` source names a secret in the tenant's vault: `secret_store: env` has none."""
    if t.secret_store != "env":  # noqa: S105 (a storage mode, not a password)
        return []
    return [
        (
            ("secret_store",),
            f"{s.setting_path}: {s.source} is a secret in the tenant's Key Vault, which "
            "secret_store: env does not use; use env: or file:, or secret_store: keyvault",
        )
        for s in secret_settings(t)
        if vault_secret(s.source) is not None
    ]


def fleet_rules(tenants: list[Tenant], path: Path, doc: YamlDocument) -> list[Problem]:
    """Two tenants must not write the same secret of one vault.

    apply tags every secret with the tenant that wrote it, so two tenants writing one secret never
    converge (each run rewrites the other's tag, and plan always shows a change), and with
    different sources they would overwrite each other's value. One line per pair of tenants.
    """
    owners: dict[tuple[str, str], int] = {}
    shared: dict[tuple[int, int, str], list[str]] = {}
    for index, t in enumerate(tenants):
        for push in [] if t.absent else secret_pushes(t):  # absent tenants write nothing
            key = (push.vault.lower(), push.name.lower())
            first = owners.setdefault(key, index)
            if first != index:
                shared.setdefault((first, index, push.vault), []).append(push.name)
    problems: list[Problem] = []
    for (first, index, vault), names in shared.items():
        problems.append(
            Problem(
                f"tenants {tenants[first].name!r} (line {doc.line_of(('tenants', first))}) and "
                f"{tenants[index].name!r} both write {len(names)} secret(s) in vault {vault!r} "
                f"(e.g. {names[0]!r}); they would overwrite each other's secrets and tags on "
                "every apply: set a different secret_prefix on one of them",
                file=str(path),
                line=doc.line_of(("tenants", index)),
                path=f"tenants[{index}]",
            )
        )
    return problems


# msticpy's default auth methods (msticpy/auth/cloud_mappings.py, default_auth_methods).
MSTICPY_DEFAULT_AUTH_METHODS = ("env", "msi", "vscode", "cli", "powershell", "devicecode")


def msticpy_warns_msi_order(methods: list[str]) -> bool:
    """Whether msticpy's init_notebook on Azure ML warns about these Azure.auth_methods.

    msticpy/init/azure_ml_tools.py, `_check_aml_auth_method_order`: unless msi comes after cli
    or after devicecode (a missing method counts as position 99), it shows "MSI authentication
    to MS Sentinel not supported" and moves msi to the end of the list.
    """
    if not methods:
        return False
    index = {method: i for i, method in enumerate(methods)}
    msi = index.get("msi", 99)
    return not (msi > index.get("cli", 99) or msi > index.get("devicecode", 99))


# microsoft/msticpy#842 (fixed in 409de94d, released in 2.16.2): msticpy/auth/azure_auth_core.py
# `_build_cli_client` passed Azure.tenant_id to AzureCliCredential and failed when `az` was
# signed in with a managed identity (a compute instance's); since then it retries without the
# tenant when the CLI's error is about the tenant.
MSTICPY_CLI_TENANT_FIX = "2.16.2"


def msticpy_cli_needs_tenant_fix(t: Tenant) -> bool:
    """Whether the rendered settings hold Azure.tenant_id (always, for a tenant with analysts)
    and msticpy's az_connect may use the Azure CLI (cli listed, or msticpy's defaults)."""
    if not t.user_list or t.absent:
        return False
    methods: tuple[str, ...] = tuple(t.azure_auth_methods or MSTICPY_DEFAULT_AUTH_METHODS)
    return "cli" in methods


def auth_rules(t: Tenant) -> list[tuple[PathKey, str]]:
    """Where msticpy reads auth methods, and who a connection runs as (Azure.auth_methods).

    msticpy's az_connect takes its methods from the call or `Azure.auth_methods` and exports the
    AzureCLI service principal as AZURE_CLIENT_* only when `env` is among them
    (msticpy/auth/azure_auth.py), so whether connections run as that service principal or as
    the analyst is decided by azure_auth_methods: the inventory must say it.
    """
    out: list[tuple[PathKey, str]] = []
    if t.data_providers.AzureCLI is None:
        return out
    where: PathKey = ("data_providers", "AzureCLI")
    if t.azure_auth_methods is None:
        out.append(
            (
                where,
                "with msticpy's default auth methods (env first) every Azure connection would "
                "run as this service principal, not the analyst; set azure_auth_methods: "
                "include env to connect as the service principal",
            )
        )
    elif "env" not in t.azure_auth_methods:
        out.append(
            (
                where,
                "this service principal is never used: msticpy exports it (AZURE_CLIENT_*) only "
                "when azure_auth_methods includes env; add env or remove AzureCLI",
            )
        )
    return out


def tenant_warnings(t: Tenant) -> list[tuple[PathKey, str]]:
    """Settings that load but do not do what they say for a tenant whose analysts use Azure ML."""
    out: list[tuple[PathKey, str]] = []
    if not t.user_list or t.absent:
        return out
    if t.secret_store == "env":  # noqa: S105 (a storage mode, not a password)
        out.append(
            (
                ("secret_store",),
                "secret_store: env: nothing sets these environment variables on an Azure ML "
                "compute instance, so msticpy finds no secrets there; use keyvault for analysts "
                "on Azure ML",
            )
        )
    for path, value in walk(t.msticpy):
        if is_msticpy_reference(value) and "EnvironmentVar" in value:
            out.append(
                (
                    ("msticpy", *path),
                    f"{{EnvironmentVar: {value['EnvironmentVar']}}}: nothing sets this environment "
                    "variable on an Azure ML compute instance (as with secret_store: env); give "
                    "the setting an env: or file: source so that apply pushes it to Key Vault",
                )
            )
    if t.kernel_mode == "nbuser":
        out.append(
            (
                ("kernel_mode",),
                "kernel_mode: nbuser: msticpy 2.10 and later no longer runs nbuser_settings.py "
                "(it warns at every notebook start); use kernel",
            )
        )
    if t.azure_auth_methods and msticpy_warns_msi_order(list(t.azure_auth_methods)):
        out.append(
            (
                ("azure_auth_methods",),
                "msi comes before cli and devicecode: on Azure ML msticpy warns at every "
                "notebook start and moves msi to the end; put msi last",
            )
        )
    return out
