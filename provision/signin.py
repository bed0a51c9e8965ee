"""How a run signs in: the `--auth` modes, and the credential each Entra tenant's tokens come from.

`default` is `DefaultAzureCredential` (what the tool always did; against an emulator, its
registered application per tenant). The other modes exist because, at fleet scale, the cost of a
token is what its source costs: `DefaultAzureCredential` after `az login` (or `azure/login` in a
workflow) runs one `az account get-access-token` process per tenant and audience (`invoke bench`
measures it, docs/performance.md).

- `device-code`, `browser`: one interactive sign-in (azure-identity's `DeviceCodeCredential`,
  `InteractiveBrowserCredential`), then every tenant's tokens silently from the refresh token,
  guest tenants included (one credential, `additionally_allowed_tenants`, the tenant per
  request). The token cache is azure-identity's persistent one (msal-extensions: libsecret,
  Keychain, DPAPI); where no secret store exists (headless Linux) it is an unencrypted 0600 file
  only when the user allows it (`--allow-unencrypted-cache`). The `AuthenticationRecord` (who
  signed in, where; no secret) is kept 0600 in the user's config folder, so the next run signs
  in silently too. After the one sign-in the credential never prompts again in a run: a tenant
  that refuses the refresh token fails with Entra's reason instead of a prompt per tenant.
- `github-oidc`: in GitHub Actions, the job's OIDC token (fetched fresh for every exchange from
  `ACTIONS_ID_TOKEN_REQUEST_URL` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience
  `api://AzureADTokenExchange`) exchanged for each tenant's token by `ClientAssertionCredential`
  as the tenant's application (`auth_client_id`, else the job's `AZURE_CLIENT_ID`); no `az`.
- `cli`: `AzureCliCredential` (a process per token); `managed-identity`:
  `ManagedIdentityCredential` (its own tenant only, or Lighthouse-delegated ones).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provision.errors import UserInputError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from provision.azure import Endpoints

__all__ = [
    "AUTH_ENV",
    "CACHE_NAME",
    "EXCHANGE_AUDIENCE",
    "UNENCRYPTED_CACHE_ENV",
    "AuthMode",
    "SignIn",
    "SignInCredentials",
    "SignInMeter",
    "metered",
    "record_path",
    "timed",
    "token_identity",
]

AUTH_ENV = "MSTICPY_PROVISION_AUTH"  # --auth's default
UNENCRYPTED_CACHE_ENV = "MSTICPY_PROVISION_ALLOW_UNENCRYPTED_CACHE"  # --allow-unencrypted-cache
CLIENT_ID_ENV = "AZURE_CLIENT_ID"  # a job variable: the application every tenant trusts
REQUEST_URL_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 (a variable's name)
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # the audience Entra expects of a federated token
# Entra in Azure Government and Azure China federates GitHub's token for an audience of its own
# (Microsoft Learn, "Configure a federated identity credential"; the same rule the workflows'
# tests hold azure/login steps to).
EXCHANGE_AUDIENCES = {
    "usgov": "api://AzureADTokenExchangeUSGov",
    "cn": "api://AzureADTokenExchangeChina",
}
CACHE_NAME = "msticpy-provision"  # azure-identity's cache: ~/.IdentityService/<name>.nocae
RECORD_FILE = "auth-record.json"


class AuthMode(str, Enum):
    DEFAULT = "default"
    CLI = "cli"
    DEVICE_CODE = "device-code"
    BROWSER = "browser"
    GITHUB_OIDC = "github-oidc"
    MANAGED_IDENTITY = "managed-identity"

    def __str__(self) -> str:
        return self.value

    @property
    def interactive(self) -> bool:
        return self in (AuthMode.DEVICE_CODE, AuthMode.BROWSER)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def record_path() -> Path:
    """Where the authentication record is kept: $XDG_CONFIG_HOME/msticpy-provision (~/.config)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "msticpy-provision" / RECORD_FILE


@dataclass(frozen=True, kw_only=True)
class SignIn:
    """The run's sign-in: the mode, whether an unencrypted token cache is allowed, and each Entra
    tenant's application (client) id from the inventory's `auth_client_id`."""

    mode: AuthMode = AuthMode.DEFAULT
    allow_unencrypted_cache: bool = False
    client_ids: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_flags(
        cls, auth: str | None, allow_unencrypted_cache: bool, environ: Mapping[str, str]
    ) -> SignIn:
        """The flags, else the environment (`MSTICPY_PROVISION_AUTH`, ...), else `default`."""
        chosen = auth or environ.get(AUTH_ENV) or AuthMode.DEFAULT.value
        try:
            mode = AuthMode(chosen)
        except ValueError:
            names = ", ".join(m.value for m in AuthMode)
            where = "--auth" if auth else AUTH_ENV
            raise UserInputError([f"{where} {chosen!r}: use one of {names}"]) from None
        allow = allow_unencrypted_cache or _truthy(environ.get(UNENCRYPTED_CACHE_ENV))
        return cls(mode=mode, allow_unencrypted_cache=allow)

    def for_tenants(self, tenants: Iterable[Any]) -> SignIn:
        """This sign-in with the application ids the inventory's tenants declare."""
        ids = {
            str(t.auth_tenant_id or t.tenant_id): str(t.auth_client_id)
            for t in tenants
            if getattr(t, "auth_client_id", None)
        }
        return SignIn(
            mode=self.mode, allow_unencrypted_cache=self.allow_unencrypted_cache, client_ids=ids
        )

    def problems(
        self, tenants: Iterable[Any], environ: Mapping[str, str], endpoints: Endpoints | None
    ) -> list[str]:
        """What keeps this sign-in from starting, one line each (checked before anything runs)."""
        out: list[str] = []
        if self.mode is AuthMode.GITHUB_OIDC:
            missing = [n for n in (REQUEST_URL_ENV, REQUEST_TOKEN_ENV) if not environ.get(n)]
            if missing:
                out.append(
                    f"--auth github-oidc: {' and '.join(missing)} not set (GitHub sets them in a "
                    "job with `permissions: id-token: write`)"
                )
            apps = endpoints.apps if endpoints is not None else {}
            for t in tenants:
                tenant_id = str(t.auth_tenant_id or t.tenant_id)
                if not (
                    self.client_ids.get(tenant_id)
                    or environ.get(CLIENT_ID_ENV)
                    or tenant_id in apps
                ):
                    out.append(
                        f"--auth github-oidc: tenant {t.name}: no application to sign in as "
                        f"(set its auth_client_id in the inventory, or {CLIENT_ID_ENV})"
                    )
        if self.mode.interactive and not self.allow_unencrypted_cache and not secret_store():
            out.append(_no_secret_store(str(self.mode)))
        return out


def secret_store() -> bool:
    """Whether azure-identity can encrypt its persistent cache here: on Linux, libsecret
    (msal-extensions' `trial_run`, which needs PyGObject and a running secret service)."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        from msal_extensions import libsecret

        libsecret.trial_run()
    except Exception:
        return False
    return True


def token_identity(token: str) -> dict[str, str]:
    """Who an access token speaks for, from its claims (read, not verified: for the plan's
    notes only): user name or application id, object id, tenant. No part of the token itself."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return {}
    if not isinstance(claims, dict):
        return {}
    keys = ("upn", "preferred_username", "unique_name", "appid", "azp", "oid", "tid", "idtyp")
    return {k: str(claims[k]) for k in keys if claims.get(k)}


class SignInCredentials:
    """The credentials of one run for a non-default mode, one cloud (endpoints): shared where
    the source serves every tenant (interactive, CLI, managed identity), per tenant where the
    application differs (GitHub OIDC). Thread-safe; the interactive sign-in happens once."""

    def __init__(
        self,
        signin: SignIn,
        ep: Endpoints,
        transport: Callable[[], Any],
        session: Any,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.signin = signin
        self.ep = ep
        self._transport = transport
        self._session = session
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()
        self._shared: TokenCredential | None = None
        self._failed: Exception | None = None

    # --- common keyword arguments -----------------------------------------------------------
    @property
    def _authority(self) -> str:
        return self.ep.authority or self.ep.login

    def _identity_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"authority": self._authority, "transport": self._transport()}
        if self.ep.authority is not None:  # an emulator's authority: no instance discovery
            kwargs["disable_instance_discovery"] = True
        if self.ep.ca_cert:
            kwargs["connection_verify"] = self.ep.ca_cert
        return kwargs

    def credential(self, tenant_id: str) -> TokenCredential:
        mode = self.signin.mode
        if mode is AuthMode.GITHUB_OIDC:
            return self._assertion_credential(tenant_id)
        with self._lock:
            if self._failed is not None:  # one sign-in attempt per run, not one per tenant
                raise self._failed
            if self._shared is None:
                try:
                    self._shared = self._new_shared(tenant_id)
                except Exception as exc:
                    self._failed = exc
                    raise
            return self._shared

    def _new_shared(self, tenant_id: str) -> TokenCredential:
        from azure.identity import AzureCliCredential, ManagedIdentityCredential

        mode = self.signin.mode
        if mode is AuthMode.CLI:
            # azure-identity waits 10 s for an `az` process; a fleet's tokens start many at once
            # and each costs about half a second of CPU (docs/performance.md), so on a small
            # machine they queue for longer than that.
            return AzureCliCredential(additionally_allowed_tenants=["*"], process_timeout=120)
        if mode is AuthMode.MANAGED_IDENTITY:
            client_id = self._environ.get(CLIENT_ID_ENV) or None
            return ManagedIdentityCredential(client_id=client_id)
        return self._interactive(tenant_id)

    # --- device code and browser --------------------------------------------------------------
    def _interactive(self, first_tenant: str) -> TokenCredential:
        from azure.identity import (
            AuthenticationRecord,
            DeviceCodeCredential,
            InteractiveBrowserCredential,
        )

        record = _load_record(self._authority)
        if self.signin.allow_unencrypted_cache and not secret_store():
            print(
                "sign-in: no secret store here: the token cache is an unencrypted 0600 file, "
                f"{cache_path()} (--allow-unencrypted-cache)",
                file=sys.stderr,
            )
        kind: Any = InteractiveBrowserCredential
        extra: dict[str, Any] = {}
        if self.signin.mode is AuthMode.DEVICE_CODE:
            kind, extra = DeviceCodeCredential, {"prompt_callback": _device_code_prompt}
        kwargs = self._identity_kwargs()
        if record is not None:
            del kwargs["authority"]  # the record's (the same host: `_load_record`)
        credential: Any = kind(
            tenant_id=record.tenant_id if record else first_tenant,
            additionally_allowed_tenants=["*"],
            # azure-identity's `cache_persistence_options` builds this same msal-extensions cache
            # without an in-process lock: concurrent tenants then meet msal-extensions' lock
            # file, which is polled every 0.25 s. Handing the cache over (`_cache`, as
            # azure-identity's own SharedTokenCacheCredential does) is not a public argument;
            # the two supported alternatives measured worse on `bench --signin` at 50 tenants:
            # the option alone, 6.7 s of sign-in in an 8 s run of 6 tenants; the option with
            # one token request at a time, +6.6 s over no sign-in against +1.9 s with this.
            # tests/signin's second silent run fails if the argument stops being honoured.
            _cache=_token_cache(self.signin.allow_unencrypted_cache),
            authentication_record=record,
            # one sign-in per run at most: a tenant refusing the refresh token fails with
            # Entra's reason (AuthenticationRequiredError), it does not prompt again
            disable_automatic_authentication=True,
            **extra,
            **kwargs,
        )
        if record is None:
            scope = self.ep.arm_scope
            new: AuthenticationRecord = credential.authenticate(
                scopes=[scope], tenant_id=first_tenant
            )
            _save_record(new)
        return WithoutCae(credential)

    # --- GitHub OIDC --------------------------------------------------------------------------
    def _assertion_credential(self, tenant_id: str) -> TokenCredential:
        from azure.identity import ClientAssertionCredential

        client_id = (
            self.signin.client_ids.get(tenant_id)
            or self._environ.get(CLIENT_ID_ENV)
            or self.ep.apps.get(tenant_id, {}).get("client_id")
        )
        if not client_id:
            raise UserInputError(
                [f"--auth github-oidc: no application id for Entra tenant {tenant_id}"]
            )
        kwargs = self._identity_kwargs()
        kwargs.pop("disable_instance_discovery", None)  # not an msal credential
        return ClientAssertionCredential(tenant_id, client_id, self._github_token, **kwargs)

    def _github_token(self) -> str:
        """A fresh OIDC token of the job, for Entra (GitHub's ID tokens last 5 minutes: one per
        exchange, never a cached one)."""
        from azure.core.exceptions import ClientAuthenticationError

        url = self._environ.get(REQUEST_URL_ENV, "")
        request_token = self._environ.get(REQUEST_TOKEN_ENV, "")
        separator = "&" if "?" in url else "?"
        audience = EXCHANGE_AUDIENCES.get(self.ep.name, EXCHANGE_AUDIENCE)
        try:
            response = self._session.get(
                f"{url}{separator}audience={audience}",
                headers={"Authorization": f"bearer {request_token}"},
                timeout=30,
                verify=self.ep.ca_cert or True,
            )
            value = response.json().get("value") if response.status_code == 200 else None
        except (OSError, ValueError) as exc:
            raise ClientAuthenticationError(
                f"GitHub OIDC token request failed: {type(exc).__name__}"
            ) from None
        if not isinstance(value, str) or not value:
            raise ClientAuthenticationError(
                f"GitHub OIDC token request answered HTTP {response.status_code} without a token"
            )
        return value


class WithoutCae:
    """A user credential asked for tokens without continuous access evaluation.

    azure-keyvault-secrets asks for CAE tokens (``enable_cae=True``), and azure-identity keeps
    those in a second cache with msal applications of their own (``MsalCredential._get_app``:
    ``_cae_cache``, ``_cae_client_applications``): the refresh token of the one sign-in is in
    the other, so every Key Vault token would need a sign-in of its own. CAE is an opt-in
    capability (claim ``xms_cc=CP1``); a token without it is what every other service here gets.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs.pop("enable_cae", None)
        return self.inner.get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        merged = {k: v for k, v in dict(options or {}).items() if k != "enable_cae"}
        return self.inner.get_token_info(*scopes, options=merged)

    def close(self) -> None:
        self.inner.close()


def cache_path() -> Path:
    """azure-identity's persistent cache of this name (`_persistent_cache._get_persistence`)."""
    return Path.home() / ".IdentityService" / f"{CACHE_NAME}.nocae"


def _token_cache(allow_unencrypted: bool) -> Any:
    """The persistent token cache: encrypted by the platform's secret store, else (allowed) a
    0600 file (msal-extensions' FilePersistence), with one thread of this process in it at a
    time."""
    import msal_extensions

    class OneThreadAtATime(msal_extensions.PersistedTokenCache):  # type: ignore[misc]
        """Under msal's own cache lock (`msal.TokenCache._lock`, an RLock it holds while
        adding a token, which calls `modify`): a lock of our own would be taken in the other
        order by a thread searching while another adds, and the two would wait forever."""

        def modify(self, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return super().modify(*args, **kwargs)

        def search(self, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return super().search(*args, **kwargs)

    location = cache_path()
    location.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        persistence = msal_extensions.build_encrypted_persistence(str(location))
    except Exception:
        if not allow_unencrypted:
            raise UserInputError([_no_secret_store("device-code/browser")]) from None
        persistence = msal_extensions.FilePersistence(str(location))
    return OneThreadAtATime(persistence)


def _no_secret_store(mode: str) -> str:
    return (
        f"--auth {mode}: no secret store to encrypt the token cache (libsecret is not usable "
        "here: headless Linux?); pass --allow-unencrypted-cache (or set "
        f"{UNENCRYPTED_CACHE_ENV}=1) to keep it in a 0600 file, {cache_path()}"
    )


def _device_code_prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
    """The device code, on stderr (stdout may be a --json document): the one sign-in of a run."""
    print(
        f"sign-in: open {verification_uri} and enter the code {user_code} "
        f"(valid until {expires_on:%H:%M:%S})",
        file=sys.stderr,
        flush=True,
    )


def _load_record(authority: str) -> Any:
    """The saved authentication record, when it is for this authority (host); else None."""
    from azure.identity import AuthenticationRecord

    path = record_path()
    try:
        record = AuthenticationRecord.deserialize(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    host = authority.split("://", 1)[-1].split("/", 1)[0]
    return record if record.authority == host else None


def _save_record(record: Any) -> None:
    from provision.fsutil import write_atomic

    write_atomic(record_path(), record.serialize().encode("utf-8"), mode=0o600)


# --- what sign-in costs (read by the benchmark; nothing is measured unless it asks) -------------


@dataclass
class SignInMeter:
    """Time inside the credentials' get_token: calls, their union on the wall clock (tokens of
    several tenants come at once) and the CPU of the threads that asked (this process only;
    processes a credential starts are counted by whoever measures, from their rusage)."""

    calls: int = 0
    cpu_s: float = 0.0
    intervals: list[tuple[float, float]] = field(default_factory=list)
    # CPU of finished child processes when the first token was asked for (None before): a run's
    # children before that (its templates' `bash -n` checks) are not sign-in's
    children_cpu_at_start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _in_request: threading.local = field(default_factory=threading.local)

    def in_request(self) -> bool:
        """Whether this thread is inside a token request (a process it starts is sign-in's)."""
        return bool(getattr(self._in_request, "active", False))

    def wall_s(self) -> float:
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total


_meter: SignInMeter | None = None


def children_cpu_s() -> float:
    """CPU (user + system) of this process's finished children; 0 where not measurable."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def current_meter() -> SignInMeter | None:
    return _meter


@contextlib.contextmanager
def metered() -> Iterator[SignInMeter]:
    """Measure every token request of this process until the block ends."""
    global _meter
    meter = SignInMeter()
    _meter = meter
    try:
        yield meter
    finally:
        _meter = None


@contextlib.contextmanager
def timed() -> Iterator[None]:
    """One token request, measured when a `metered` block is open."""
    meter = _meter
    if meter is None:
        yield
        return
    with meter._lock:
        if meter.children_cpu_at_start is None:
            meter.children_cpu_at_start = children_cpu_s()
    start, cpu = time.perf_counter(), time.thread_time()
    meter._in_request.active = True
    try:
        yield
    finally:
        meter._in_request.active = False
        stop, used = time.perf_counter(), time.thread_time() - cpu
        with meter._lock:
            meter.calls += 1
            meter.cpu_s += used
            meter.intervals.append((start, stop))
