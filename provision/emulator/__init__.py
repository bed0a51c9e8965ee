"""A local Azure over HTTPS that the official Azure SDK clients talk to unchanged.

It emulates what msticpy-provision uses: Key Vault secrets (data plane), Azure Files (the
workspace notebooks share), Azure Resource Manager for Microsoft.MachineLearningServices
(workspaces, keys, compute instances, datastores) and the resources around it (storage accounts,
vaults and their access, role assignments, Log Analytics workspaces), and Entra ID as far as
tokens go (a per-tenant authority and a managed-identity endpoint). It is the test double of
every Azure-facing test and the target of ``--local`` runs. Built like moto: per service a
backend (``models.py``: state and rules, no HTTP), routes (``urls.py``), a wire layer
(``responses.py``) and error classes (``exceptions.py``); `server.Emulator` adds TLS, auth,
faults, opt-in throttling (``throttle.py``), the request log and persistence.

Start one::

    from provision.emulator import Emulator, SeedTenant
    with Emulator(state_dir) as emu:
        emu.seed([SeedTenant(tenant_id=..., subscription_id=..., resource_group="rg",
                             workspace="ws", key_vault="kv-soc", users=[("alice", "ci-alice")])])
        ...

or from a shell: ``invoke emulator --state-dir DIR [--seed inventory.yaml]``, which writes
DIR/endpoints.json (owner-only; it holds the token, keys and client secrets)::

    {"ca_cert": "/abs/DIR/ca.pem",
     "ca_bundle": "/abs/DIR/ca-bundle.pem",          # public roots + the emulator's CA
     "arm": "https://127.0.0.1:PORT/_arm",
     "keyvault": "https://127.0.0.1:PORT/_kv/{vault}",
     "files": "https://127.0.0.1:PORT/{account}",
     "authority": "https://127.0.0.1:PORT",          # Entra-ID-shaped, one per tenant below it
     "proxy": "http://127.0.0.1:PROXY_PORT",         # HTTPS proxy for Azure's own hostnames
     "cloud_metadata": "https://127.0.0.1:PORT/_arm/metadata/endpoints?api-version=2022-09-01",
     "token": "<bearer token>",                      # the operator: every tenant, every right
     "token_tenant": "*",
     "tenants": {"<tenant id>": {"client_id", "client_secret", "object_id"}},  # admin apps
     "managed_identity": {"endpoint", "header", "tenant_id"},
     "storage_keys": {"<account>": "<key>"},
     "env_file": "/abs/DIR/env.sh"}

and DIR/env.sh, the export lines for unmodified SDK code (see `provision.emulator.envfile`).

With env.sh sourced, code needs no URL changed at all: ``HTTPS_PROXY`` sends
``https://<vault>.vault.azure.net``, ``https://<account>.file.core.windows.net``,
``https://management.azure.com`` and ``https://login.microsoftonline.com`` to the emulator's proxy
(`provision.emulator.proxy`, `provision.emulator.hostnames`), which answers them from the same
services and refuses every other host with 502 (docs/emulator-hostnames.md).

Point the official clients at it (checked with azure-keyvault-secrets 4.12,
azure-storage-file-share 12.27, azure-mgmt-machinelearningservices 1.0.1, azure-identity 1.27)::

    cred = ClientSecretCredential(tenant_id, client_id, client_secret,
                                  authority=endpoints["authority"],
                                  disable_instance_discovery=True, connection_verify=ca)
    # or emu.tenant_credential(tenant_id) in-process; or DefaultAzureCredential() after
    # `source DIR/env.sh`; or EmulatorCredential(endpoints["token"]) for the operator
    ca = endpoints["ca_cert"]
    SecretClient(vault_url=endpoints["keyvault"].format(vault=name), credential=cred,
                 connection_verify=ca)
    ShareClient(account_url=endpoints["files"].format(account=acct), share_name=share,
                credential=key,        # or AzureNamedKeyCredential(acct, key)
                connection_verify=ca)  # or credential=cred, token_intent="backup"
    MachineLearningServicesMgmtClient(cred, subscription_id, base_url=endpoints["arm"],
                                      connection_verify=ca)

Notes on those constructions:

- Tokens carry a tenant (``tid``) and a principal (``oid``). ARM refuses a token of another
  tenant than the subscription's (401 ``InvalidAuthenticationTokenTenant``), Key Vault one of
  another tenant than the vault's (401 with a challenge naming the vault's tenant), Files one of
  another tenant than the account's (401 ``InvalidAuthenticationInfo``). Key Vault and Files
  also check the principal's rights (role assignments, access policies); ARM checks only the
  tenant (plus `Emulator.deny`). The operator token passes every check in every tenant.
- The Key Vault challenge names ``resource="https://<called host minus its first label>"``
  (``https://0.0.1:PORT`` for 127.0.0.1:PORT), which azure-keyvault-secrets' resource check
  accepts, so ``verify_challenge_resource=False`` is no longer needed.
- The storage SDK takes the account name from the first path segment for an ``127.0.0.1`` host
  and signs Shared Key requests for that path; no extra argument is needed.
- The ML client needs no ``credential_scopes``: it asks for
  ``https://management.azure.com/.default``, which the emulator's authority issues.
- Key Vault's challenge cache in the SDK is per host:port, and all vaults share the emulator's,
  so only the first request of a process to any vault gets the 401 challenge.
- ``ClientClass(..., retry_backoff_factor=0.01)`` keeps fault-injection tests fast; the storage
  clients ignore it and need ``retry_policy=ExponentialRetry(initial_backoff=0,
  increment_base=0, random_jitter_range=0)`` (their default first back-off is 15 s).
- azure-keyvault-secrets 4.12 sends api-version 2026-04-01 (not 7.6); the emulator accepts any
  api-version and requires one, as Azure does.

Deliberate differences from Azure, all documented where they are implemented:

- An unknown vault or storage account drops the TCP connection without an answer (logged with
  status 0 and error VaultNotFound/AccountNotFound): in Azure the host name
  ``<name>.vault.azure.net`` would not resolve, so clients see a connection-level error there
  too (``azure.core.exceptions.ServiceRequestError``/``ServiceResponseError``, after retries).
- Secret ids in Key Vault bodies use ``https://<vault>.vault.azure.net/secrets/...`` (the SDK
  parses ids as ``/secrets/<name>/<version>``); nextLinks point at the emulator.
- Compute instances never boot; a compute PUT or DELETE runs for ``backend.arm.lro_seconds``
  (default 1 s) of wall-clock time, polled or not, then Succeeded, and the instance is Running
  (or gone).
"""

from __future__ import annotations

from provision.emulator.auth import EmulatorCredential
from provision.emulator.seed import SeedTenant, seed_tenants_from_inventory
from provision.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorCredential", "SeedTenant", "seed_tenants_from_inventory"]
