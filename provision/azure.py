"""Azure endpoints, credentials and SDK clients (imported only by tasks that talk to Azure).

One credential per cloud, one client per service per tenant (per vault, per share), all sharing
one pooled HTTP session, reused for the whole run. Every request passes through
`LimitedTransport`, the transport every client is given, which holds a slot of one semaphore for
each try on the wire, so that at most `max_concurrency` requests are on the wire at once across
the fleet whatever the thread layout and whatever pipeline an SDK builds (the storage SDK ignores
`per_retry_policies`), and retry back-off sleeps (in the pipeline, above the transport) do not
hold a slot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport

from provision.errors import Problem, UserInputError
from provision.options import DEFAULT_MAX_CONCURRENCY  # the --max-concurrency default
from provision.signin import timed

if TYPE_CHECKING:
    from provision.inventory.model import Tenant
    from provision.signin import SignIn, SignInCredentials

# The client the tool presents to a local emulator's authority for a tenant it registered no
# application in: the authority refuses it (AADSTS700016), as Entra refuses an unknown client.
LOCAL_CLIENT_ID = "msticpy-provision-local"
LOCAL_CLIENT_SECRET = "local-emulator"  # noqa: S105 (no secret: an unregistered client id)
# azure-core's exponential back-off; Retry-After from the service takes precedence.
# azure-core also counts status, connection and read retries separately (3 each by default) and
# stops at the first exhausted counter, so each gets RETRY_TOTAL too; a back-off cap keeps a
# persistently failing request to about half a minute.
RETRY_TOTAL = 8
RETRY_BACKOFF = 0.4
RETRY_BACKOFF_MAX = 5
# A 429 (throttled) draws on a budget of its own (see ThrottleAwareRetryPolicy): with Retry-After
# honoured, a request that meets an empty bucket under contention is refused again whenever another
# caller took the refilled token first; the emulator's throttling model (--throttle
# 'azure,scale=0.04', 12 workspaces in one subscription) failed 3 of 12 tenants with 8 tries.
RETRY_THROTTLED = 60
# The storage SDK has its own policy (it ignores retry_backoff_factor): its default first back-off
# is 15 s + 3 s and it stops after 3 retries. Azure Files throttles with 503 ServerBusy, which it
# retries (429 it does not); see storage_retry_policy.


@dataclass(frozen=True)
class Endpoints:
    """Where a cloud's services live. `keyvault` holds {vault}, `files` holds {account}."""

    name: str
    arm: str
    keyvault: str
    files: str
    login: str
    arm_scope: str
    ca_cert: str | None = None
    token: str | None = None  # an emulator's static bearer token
    storage_keys: dict[str, str] = field(default_factory=dict)
    authority: str | None = None  # an emulator's Entra-ID-shaped authority (tokens per tenant)
    # an emulator's app registration per tenant: tenant id -> {client_id, client_secret}
    apps: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_emulator(self) -> bool:
        return self.token is not None


CLOUDS: dict[str, Endpoints] = {
    "global": Endpoints(
        "global",
        "https://management.azure.com",
        "https://{vault}.vault.azure.net",
        "https://{account}.file.core.windows.net",
        "login.microsoftonline.com",
        "https://management.azure.com/.default",
    ),
    "usgov": Endpoints(
        "usgov",
        "https://management.usgovcloudapi.net",
        "https://{vault}.vault.usgovcloudapi.net",
        "https://{account}.file.core.usgovcloudapi.net",
        "login.microsoftonline.us",
        "https://management.usgovcloudapi.net/.default",
    ),
    "cn": Endpoints(
        "cn",
        "https://management.chinacloudapi.cn",
        "https://{vault}.vault.azure.cn",
        "https://{account}.file.core.chinacloudapi.cn",
        "login.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
    ),
}


def load_endpoints_file(path: str | Path) -> Endpoints:
    """An emulator's endpoints.json (from `invoke emulator`) as Endpoints for every tenant."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError([Problem("endpoints file not found", file=str(p))]) from None
    except (OSError, ValueError) as exc:
        raise UserInputError([Problem(f"unreadable endpoints file: {exc}", file=str(p))]) from None
    missing = [k for k in ("arm", "keyvault", "files", "token") if not isinstance(data.get(k), str)]
    if (
        missing
        or "{vault}" not in str(data.get("keyvault"))
        or "{account}" not in str(data.get("files"))
    ):
        raise UserInputError(
            [
                Problem(
                    "not an emulator endpoints file (missing or malformed: "
                    f"{', '.join(missing) or 'urls'})",
                    file=str(p),
                )
            ]
        )
    return Endpoints(
        name="emulator",
        arm=data["arm"].rstrip("/"),
        keyvault=data["keyvault"],
        files=data["files"],
        login="login.microsoftonline.com",
        arm_scope="https://management.azure.com/.default",
        ca_cert=data.get("ca_cert"),
        token=data["token"],
        storage_keys=dict(data.get("storage_keys") or {}),
        authority=data.get("authority") if isinstance(data.get("authority"), str) else None,
        apps={
            str(tid): {k: str(v) for k, v in app.items()}
            for tid, app in (data.get("tenants") or {}).items()
            if isinstance(app, dict)
        },
    )


_RETRY_SETTINGS: dict[str, Any] = {
    "retry_total": RETRY_TOTAL,
    "retry_status": RETRY_TOTAL,
    "retry_connect": RETRY_TOTAL,
    "retry_read": RETRY_TOTAL,
    "retry_backoff_factor": RETRY_BACKOFF,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
}


class LimitedTransport(RequestsTransport):  # type: ignore[misc]  # lazily exported: Any
    """RequestsTransport that holds one slot of the run's semaphore for each try on the wire.

    The transport, not a pipeline policy, is where the requests of every SDK pass: the storage
    SDK builds its own pipeline and drops `per_retry_policies`, so a policy never saw the file
    share's requests (and `--max-concurrency 1` still sent up to 4 file requests at once).
    """

    def __init__(self, semaphore: threading.Semaphore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sem = semaphore

    def send(self, request: Any, **kwargs: Any) -> Any:
        with self._sem:
            return super().send(request, **kwargs)


def storage_retry_policy() -> Any:
    """The storage SDK's exponential retry: about 2 s, 4 s, then RETRY_BACKOFF_MAX between tries,
    RETRY_TOTAL retries of each kind (its defaults: 15 s + 3^n s, 3 retries)."""
    from azure.storage.fileshare import ExponentialRetry

    class CappedExponentialRetry(ExponentialRetry):
        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            return min(float(RETRY_BACKOFF_MAX), float(super().get_backoff_time(settings)))

    return CappedExponentialRetry(
        initial_backoff=0,
        increment_base=2,
        random_jitter_range=1,
        retry_total=RETRY_TOTAL,
        retry_status=RETRY_TOTAL,
        retry_connect=RETRY_TOTAL,
        retry_read=RETRY_TOTAL,
    )


def throttle_aware_retry_policy(**kwargs: Any) -> Any:
    """azure-core's RetryPolicy (Retry-After honoured, else exponential back-off) whose 429
    answers draw on RETRY_THROTTLED retries of their own instead of `retry_total`/`retry_status`:
    being throttled is Azure asking for patience (ARM, the storage resource provider and Key Vault
    throttle with 429), not the failure those budgets bound. Other answers and errors count as in
    azure-core.

    A 429 is retried whatever the method: azure-core retries a POST or PATCH only when the answer
    carries Retry-After, which Key Vault's 429 does not, so a throttled secret recovery (POST) or
    properties update (PATCH) failed the tenant at once. A throttled request was not processed
    (Key Vault: "Request was not processed"; ARM: the request "isn't processed"), so sending it
    again is safe."""
    from azure.core.pipeline import PipelineResponse
    from azure.core.pipeline.policies import RetryPolicy

    class ThrottleAwareRetryPolicy(RetryPolicy[Any, Any]):
        def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
            settings: dict[str, Any] = super().configure_retries(options)
            settings["throttled"] = RETRY_THROTTLED
            return settings

        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            if response.http_response.status_code == 429:
                return True
            return bool(super().is_retry(settings, response))

        def increment(
            self, settings: dict[str, Any], response: Any = None, error: Any = None
        ) -> bool:
            throttled = (
                error is None
                and isinstance(response, PipelineResponse)
                and response.http_response.status_code == 429
            )
            if throttled and settings["throttled"] > 0:
                settings["throttled"] -= 1
                settings["total"] += 1  # azure-core's increment takes them back: net zero
                settings["status"] += 1
            return bool(super().increment(settings, response=response, error=error))

    return ThrottleAwareRetryPolicy(**kwargs)


class Clients:
    """Factory and cache of SDK clients for one run. Thread-safe."""

    def __init__(
        self,
        max_concurrency: int,
        endpoints_override: Endpoints | None = None,
        signin: SignIn | None = None,
    ) -> None:
        from requests.adapters import HTTPAdapter

        from provision.http_session import EnvOnceSession
        from provision.signin import SignIn

        self.max_concurrency = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.override = endpoints_override
        self.signin = signin or SignIn()
        self._signin_credentials: dict[str, SignInCredentials] = {}  # per cloud
        self._identities: dict[str, str] = {}  # Entra tenant -> who its first token was for
        self._sem = threading.Semaphore(self.max_concurrency)
        self._lock = threading.RLock()  # make() asks for the credential under the lock
        self._cache: dict[tuple[str, ...], Any] = {}
        # cache or credential key -> the tenants that asked for it (see release)
        self._users: dict[tuple[str, ...] | str, set[str]] = {}
        self._credentials: dict[str, TokenCredential] = {}
        session = EnvOnceSession()  # the environment read once per host, not per request
        # One pool per host: in Azure every vault and storage account is its own host (2-3 per
        # tenant), and requests keeps only `pool_connections` pools, evicting (closing) the least
        # recently used, so size it for a fleet, not for 64 hosts. A download holds its
        # connection while the body is read, after its transport slot is released: twice the
        # in-flight bound keeps connections from being discarded and reopened.
        adapter = HTTPAdapter(
            pool_connections=512, pool_maxsize=2 * self.max_concurrency + 8, max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session = session

    def endpoints(self, cloud: str) -> Endpoints:
        return self.override or CLOUDS[cloud]

    def _transport(self, ep: Endpoints) -> LimitedTransport:
        """A transport on the run's shared session, bounded by the run's semaphore."""
        transport_kwargs: dict[str, Any] = {}
        if ep.ca_cert:
            transport_kwargs["connection_verify"] = ep.ca_cert
        return LimitedTransport(
            self._sem, session=self._session, session_owner=False, **transport_kwargs
        )

    def _common(self, ep: Endpoints) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "transport": self._transport(ep),
            **_RETRY_SETTINGS,
            "logging_enable": False,
        }
        if ep.ca_cert:
            kwargs["connection_verify"] = ep.ca_cert
        return kwargs

    def credential(self, t: Tenant, tenant_id: str | None = None) -> TokenCredential:
        """A credential whose every token is for the tenant's own Entra tenant (or `tenant_id`,
        the Entra tenant of a vault in another one: `vault_tenant`).

        ARM refuses a token of another tenant (401 InvalidAuthenticationTokenTenant), and
        DefaultAzureCredential without a tenant asks for the sign-in's default one, so one admin
        shell serving several customers would fail all but one. Lighthouse-delegated tenants
        set `auth_tenant_id` to the managing tenant.
        """
        ep = self.endpoints(t.cloud)
        tenant_id = tenant_id or t.auth_tenant_id or t.tenant_id
        key = f"{'emulator' if ep.is_emulator else t.cloud}/{tenant_id}"
        with self._lock:
            cred = self._credentials.get(key)
            if cred is None:
                cred = self._new_credential(ep, tenant_id)
                self._credentials[key] = cred
            self._users.setdefault(key, set()).add(t.name)
            return cred

    def _note_identity(self, tenant_id: str, token: str) -> None:
        """Remember who the first token of an Entra tenant speaks for (the plan's notes)."""
        if tenant_id in self._identities:
            return
        from provision.signin import token_identity

        who = token_identity(token)
        name = who.get("upn") or who.get("preferred_username") or who.get("unique_name")
        principal = f"user {name}" if name else f"application {who.get('appid', '?')}"
        self._identities[tenant_id] = (
            f"signed in (--auth {self.signin.mode}) as {principal} "
            f"(object {who.get('oid', '?')}) in Entra tenant {who.get('tid', tenant_id)}"
        )

    def sign_in_notes(self, t: Tenant) -> list[str]:
        """Which identity and Entra tenant the tenant's tokens came from, once per Entra tenant."""
        tenants = dict.fromkeys([t.auth_tenant_id or t.tenant_id, vault_tenant(t)])
        return [self._identities[x] for x in tenants if x in self._identities]

    def _new_credential(self, ep: Endpoints, tenant_id: str) -> TokenCredential:
        if self.signin.mode != "default":
            from provision.signin import SignInCredentials

            source = self._signin_credentials.get(ep.name)
            if source is None:
                source = SignInCredentials(
                    self.signin, ep, lambda: self._transport(ep), self._session
                )
                self._signin_credentials[ep.name] = source
            return TenantCredential(source.credential(tenant_id), tenant_id, self._note_identity)
        if ep.authority is not None:
            # The emulator's authority issues tokens per tenant, as Entra ID does: sign in as
            # the app registered in that tenant; in a tenant where none is (an Entra tenant the
            # identity has no access to) the authority refuses the client (AADSTS700016).
            from azure.identity import ClientSecretCredential

            app = ep.apps.get(tenant_id, {})
            local = ClientSecretCredential(
                tenant_id,
                app.get("client_id", LOCAL_CLIENT_ID),
                app.get("client_secret", LOCAL_CLIENT_SECRET),
                authority=ep.authority,
                disable_instance_discovery=True,
                connection_verify=ep.ca_cert,
                # the run's session and bound: the environment read once, connections pooled
                transport=self._transport(ep),
            )
            return TenantCredential(local, tenant_id, self._note_identity)
        if ep.token is not None:
            from provision.emulator.auth import EmulatorCredential

            return EmulatorCredential(ep.token)
        shared = self._credentials.get(f"default/{ep.name}")
        if shared is None:
            from azure.identity import DefaultAzureCredential

            shared = DefaultAzureCredential(authority=ep.login, additionally_allowed_tenants=["*"])
            self._credentials[f"default/{ep.name}"] = shared
        return TenantCredential(shared, tenant_id, self._note_identity)

    def _cached(self, key: tuple[str, ...], make: Any, tenant: str) -> Any:
        with self._lock:
            client = self._cache.get(key)
            if client is None:
                client = make()
                self._cache[key] = client
            self._users.setdefault(key, set()).add(tenant)
            return client

    def release(self, t: Tenant) -> None:
        """Forget the clients and credential that only `t` asked for, once it is done.

        Each tenant's SDK clients and credential hold about a third of a megabyte (`invoke bench
        --scale`: 91 MB at 10 tenants, 270 MB at 500 while they were kept), so a fleet's
        memory is bounded by the tenants in flight, not by the fleet. A client another tenant
        still uses stays; one that a later tenant needs (a shared workspace's share) is made again.
        """
        with self._lock:
            for key, users in list(self._users.items()):
                users.discard(t.name)
                if not users:
                    del self._users[key]
                    if isinstance(key, tuple):
                        self._cache.pop(key, None)
                    else:
                        self._credentials.pop(key, None)

    def ml(self, t: Tenant) -> Any:
        """MachineLearningServicesMgmtClient (api-version 2020-08-01), the tenant's subscription."""
        from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

        ep = self.endpoints(t.cloud)

        def make() -> Any:
            return MachineLearningServicesMgmtClient(
                self.credential(t),
                t.subscription_id,
                base_url=ep.arm,
                credential_scopes=[ep.arm_scope],
                retry_policy=throttle_aware_retry_policy(**_RETRY_SETTINGS),
                **self._common(ep),
            )

        return self._cached(
            ("ml", t.cloud, t.auth_tenant_id or t.tenant_id, t.subscription_id), make, t.name
        )

    def secrets(self, t: Tenant, vault: str) -> Any:
        """SecretClient for one vault."""
        from azure.keyvault.secrets import SecretClient

        ep = self.endpoints(t.cloud)
        tenant_id = vault_tenant(t)

        def make() -> Any:
            return SecretClient(
                ep.keyvault.format(vault=vault),
                self.credential(t, tenant_id),
                verify_challenge_resource=not ep.is_emulator,
                retry_policy=throttle_aware_retry_policy(**_RETRY_SETTINGS),
                **self._common(ep),
            )

        key = ("kv", t.cloud, tenant_id, vault.lower())
        return self._cached(key, make, t.name)

    def share(self, t: Tenant, account: str, share: str, key: str | None) -> Any:
        """ShareClient for a workspace's code share: with the account key, or (key None) with an
        Entra ID token and the backup intent that Azure Files requires of token callers."""
        from azure.core.credentials import AzureNamedKeyCredential
        from azure.storage.fileshare import ShareClient

        ep = self.endpoints(t.cloud)
        auth: dict[str, Any] = (
            {"credential": AzureNamedKeyCredential(account, key)}
            if key is not None
            # an Azure Files request intent, not a password
            else {"credential": self.credential(t), "token_intent": "backup"}  # nosec B105 (intent)
        )

        def make() -> Any:
            return ShareClient(
                account_url=ep.files.format(account=account),
                share_name=share,
                retry_policy=storage_retry_policy(),
                **auth,
                **self._common(ep),
            )

        mode = "key" if key is not None else "token"
        return self._cached(("share", t.cloud, account, share, mode), make, t.name)

    def close(self) -> None:
        self._session.close()


def vault_tenant(t: Tenant) -> str:
    """The Entra tenant whose tokens the tenant's vaults accept: `key_vault_tenant_id` where the
    inventory says the vault lives in another Entra tenant, else the tenant's sign-in tenant.

    Key Vault answers a token of another tenant with 401 AKV10032 and a challenge naming the
    vault's tenant; azure-keyvault-secrets would follow that challenge. The tool follows it
    only as the inventory allows it: the tenant is declared, not taken from the challenge,
    because the SDK caches the last challenge per host and process
    (`_shared/http_challenge_cache.py`, keyed by the URL's netloc) and vaults of different
    tenants behind one host (the emulator's path-style vaults, a proxy) would mix tenants.
    """
    return t.key_vault_tenant_id or t.auth_tenant_id or t.tenant_id


class TenantCredential:
    """Asks a credential for tokens of one tenant only, whatever tenant a request names.

    Key Vault's challenge (cached per host, see `vault_tenant`) may name another tenant than the
    vault's; ARM needs the tenant the inventory names. Every token this tool requests is for the
    tenant the inventory declares for that service.
    """

    def __init__(
        self, inner: Any, tenant_id: str, on_token: Callable[[str, str], None] | None = None
    ) -> None:
        self.inner = inner
        self.tenant_id = tenant_id
        self._on_token = on_token
        self._guard = threading.Lock()
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}

    def _one_at_a_time(self, scopes: tuple[str, ...], options: dict[str, Any]) -> threading.Lock:
        """One lock per kind of token. A tenant's first requests start together (the workspace,
        its datastore, computes and Sentinel workspaces are read at once): without it each asks
        the authority for the same token (measured: 4-5 token and metadata requests per tenant
        and scope instead of one); with it the first fetches and the others find it cached."""
        key = (scopes, *sorted((k, repr(v)) for k, v in options.items()))
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs["tenant_id"] = self.tenant_id
        with self._one_at_a_time(scopes, kwargs), timed():
            return self._noted(self.inner.get_token(*scopes, **kwargs))

    def _noted(self, token: Any) -> Any:
        if self._on_token is not None:
            self._on_token(self.tenant_id, token.token)
        return token

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        merged = dict(options or {})
        merged["tenant_id"] = self.tenant_id
        with self._one_at_a_time(scopes, merged), timed():
            return self._noted(self.inner.get_token_info(*scopes, options=merged))

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
