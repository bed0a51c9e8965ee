"""The help texts of the tasks' flags (`invoke --help TASK`), shared between tasks."""

from __future__ import annotations

from provision.options import DEFAULT_MAX_CONCURRENCY, DEFAULT_PRUNE_MAX

INVENTORY_HELP = "inventory YAML file (version: 1)"
TENANT_HELP = "only this tenant (repeatable); default: every tenant"
LOCAL_HELP = (
    "run against the embedded local Azure emulator, a world made from the inventory itself (it "
    "cannot catch wrong coordinates); its state is kept per inventory"
)
FRESH_HELP = "with --local: forget this inventory's local world first and start over"
ENDPOINTS_HELP = "endpoints.json of a running emulator (from `msticpy-provision emulator`)"
JSON_HELP = "print a JSON document instead of tables"
TEMPLATES_HELP = "folder with your own copy of the templates (default: the built-in ones)"
LOCK_HELP = "seconds to wait for another apply holding a tenant's lock (default 0: fail)"
CONCURRENCY_HELP = (
    f"requests in flight at once across the fleet (default {DEFAULT_MAX_CONCURRENCY})"
)
PRUNE_HELP = (
    "delete orphans: secrets tagged for the tenant that it no longer pushes, and files the tool "
    "wrote in user folders the inventory no longer declares (default: only report them)"
)
PRUNE_MAX_HELP = (
    f"refuse to prune a vault holding more orphan secrets than this (default {DEFAULT_PRUNE_MAX})"
)
DELETE_COMPUTES_HELP = (
    "also delete the compute instances msticpy-provision created for tenants with state: absent"
)
ALLOW_PERMANENT_DELETE_HELP = (
    "prune even in a vault without soft delete (enableSoftDelete: false), where a deleted "
    "secret is gone for good (default: refuse)"
)
LIFECYCLE_HELP = {
    "prune": PRUNE_HELP,
    "prune_max": PRUNE_MAX_HELP,
    "delete_computes": DELETE_COMPUTES_HELP,
}
STORAGE_AUTH_HELP = (
    "how to sign in to the workspace file share: auto (default: an Entra ID token where the "
    "storage account forbids Shared Key or listKeys is denied, else the account key), key, or "
    "token (never calls listKeys: a read-only plan identity)"
)

REQUIRE_ACCESS_HELP = (
    "fail a tenant (exit 1, one line) when an analyst with an object_id cannot be shown to read "
    "its vault (missing or unknown access); for CI"
)
GRANT_ACCESS_HELP = (
    "grant each analyst with an object_id what is missing to read the vault: Key Vault Secrets "
    "User on RBAC vaults, an access policy with secrets Get and List otherwise (never removes "
    "or changes other access)"
)
GRANT_PREVIEW_HELP = "show the grants apply --grant-access would make (reads only)"
BREAK_LOCK_HELP = (
    "break a lease on a tenant's lock that this tool did not take (one without its holder "
    "record: anyone who can write the share can take one); the tool's own locks are never broken "
    "while their holder lives"
)
METADATA_ONLY_HELP = (
    "read no secret value and no file content (for pull requests): secrets are judged by their "
    "vault's metadata and reported as not compared; needs no secret source, only Reader on the "
    "workspace and Key Vault Reader"
)
WARN_EXPIRY_HELP = (
    "days: a secret whose expiry date falls within them is reported (default 30; the JSON key "
    "expiring); an expired one fails its tenant (docs/secrets-lifecycle.md)"
)
ROTATE_SOURCE_HELP = (
    "the secret reference to rotate, exactly as the inventory writes it (file:secrets/vt.txt, "
    "env:VT_KEY): every tenant and vault using it gets its current value"
)
ACCESS_HELP = {"require_access": REQUIRE_ACCESS_HELP, "grant_access": GRANT_ACCESS_HELP}

AUTH_HELP = (
    "how to sign in: default (DefaultAzureCredential), cli, device-code, browser, github-oidc, "
    "managed-identity (default: $MSTICPY_PROVISION_AUTH, else default)"
)
UNENCRYPTED_CACHE_HELP = (
    "device-code/browser without a secret store (headless Linux): keep the token cache in an "
    "unencrypted 0600 file (or $MSTICPY_PROVISION_ALLOW_UNENCRYPTED_CACHE=1)"
)
SIGN_IN_HELP = {"auth": AUTH_HELP, "allow_unencrypted_cache": UNENCRYPTED_CACHE_HELP}

# Flags shared by every task that talks to Azure.
RUN_HELP = {
    "inventory": INVENTORY_HELP,
    "tenant": TENANT_HELP,
    "local": LOCAL_HELP,
    "endpoints": ENDPOINTS_HELP,
    "json": JSON_HELP,
    "templates": TEMPLATES_HELP,
    "max_concurrency": CONCURRENCY_HELP,
    "storage_auth": STORAGE_AUTH_HELP,
    **SIGN_IN_HELP,
}
SAVE_PLAN_HELP = (
    "also save the plan to this file, for apply --plan (holds no secret value; sealed with your "
    "plan key, see docs/lifecycle.md)"
)
APPLY_PLAN_HELP = (
    "apply exactly the plan saved by plan --out, with its flags; refused when the inventory, the "
    "secret sources or what the plan read in Azure changed since"
)
YES_HELP = (
    "apply without asking: on a terminal, apply and onboard show the plan and ask first (not "
    "with --local, not when stdin or stdout is not a terminal, as in CI)"
)
