"""The emulator's HTTPS server and its in-process handle, `Emulator`.

One aiohttp server on 127.0.0.1 answers all three services, told apart by path:

    https://127.0.0.1:PORT/_arm/...              Azure Resource Manager
    https://127.0.0.1:PORT/_kv/<vault>/...       Key Vault (data plane) of vault <vault>
    https://127.0.0.1:PORT/<account>/...         Azure Files of storage account <account>

and an HTTPS proxy on a second port of 127.0.0.1 (`proxy`) hands the same application the
requests that name Azure's own hostnames (``https://<vault>.vault.azure.net/...``), told apart
by host (`hostnames`); it refuses every other host with 502 and never connects anywhere.

The server adds what every service shares: TLS (a certificate from a throwaway CA made by
trustme, kept in STATE_DIR so clients keep trusting it across restarts), ``x-ms-request-id``,
fault injection, opt-in throttling, the request log, and periodic snapshots of the state. The
event loop runs in a background thread, so tests and ``--local`` runs use the emulator
in-process.

`Emulator` is the lifecycle: listen, seed, endpoints.json, the event loop thread, state
snapshots, stop. What happens to one request (service by path, routing, faults, authentication,
the answer and its request-log line) is `dispatch.RequestDispatcher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from aiohttp import web

from provision.emulator.auth import EmulatorCredential
from provision.emulator.dispatch import RequestDispatcher
from provision.emulator.envfile import (
    CA_BUNDLE_NAME,
    ENV_NAME,
    METADATA_API_VERSION,
    env_script,
    write_ca_bundle,
)
from provision.emulator.faults import FaultInjector
from provision.emulator.hostnames import CERTIFICATE_NAMES
from provision.emulator.identity.models import ANY_TENANT
from provision.emulator.identity.urls import MSI_PREFIX, OIDC_PREFIX
from provision.emulator.identity.users import ADMIN_USER
from provision.emulator.proxy import ProxyProtocol
from provision.emulator.requestlog import RequestLog, read_request_log
from provision.emulator.seed import SeedTenant, seed_backend
from provision.emulator.state import SAVE_INTERVAL_S, Backend
from provision.emulator.throttle import Throttle
from provision.emulator.wire import ARM_PREFIX, KV_PREFIX
from provision.errors import UserInputError
from provision.fsutil import write_atomic

__all__ = ["Emulator"]

log = logging.getLogger(__name__)

ENDPOINTS_NAME = "endpoints.json"
REQUESTS_NAME = "requests.jsonl"
CA_NAME = "ca.pem"
CA_KEY_NAME = "ca-key.pem"
MAX_BODY_BYTES = 64 * 1024 * 1024
START_TIMEOUT_S = 15.0


def _load_or_create_ca(state_dir: Path) -> trustme.CA:
    cert, key = state_dir / CA_NAME, state_dir / CA_KEY_NAME
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="msticpy-provision emulator")
    ca.cert_pem.write_to_path(str(cert))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(ca.private_key_pem.bytes())
    return ca


class Emulator:
    """A running local Azure: Key Vault secrets, Azure Files and ML workspace ARM over HTTPS.

    Use as a context manager (or call `start` and `stop`). See the package docstring for how
    the official SDK clients are pointed at it.
    """

    def __init__(
        self,
        state_dir: Path | str,
        port: int = 0,
        faults: str | None = None,
        latency_ms: float = 0.0,
        fault_seed: int = 0,
        proxy_port: int = 0,
        throttle: str | None = None,
    ) -> None:
        self.throttle = Throttle(throttle)  # a bad SPEC: UserInputError, before anything is made
        self.state_dir = Path(state_dir)
        # state.json holds secret values, endpoints.json the token and account keys.
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._requested_port = port
        self._requested_proxy_port = proxy_port
        self.faults = FaultInjector(faults, seed=fault_seed, latency_ms=latency_ms)
        self.backend = Backend.load(self.state_dir)
        self._dispatcher = RequestDispatcher(self.backend, self.faults, self.throttle)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._saver: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.port = 0
        self.proxy_port = 0
        self._proxy_server: asyncio.Server | None = None
        self.endpoints: dict[str, Any] = {}
        self._endpoints_written = False

    # --- public API -------------------------------------------------------------------------
    @property
    def endpoints_file(self) -> Path:
        return self.state_dir / ENDPOINTS_NAME

    @property
    def requests_file(self) -> Path:
        return self.state_dir / REQUESTS_NAME

    @property
    def ca_cert(self) -> Path:
        return self.state_dir / CA_NAME

    @property
    def ca_bundle(self) -> Path:
        return self.state_dir / CA_BUNDLE_NAME

    @property
    def env_file(self) -> Path:
        return self.state_dir / ENV_NAME

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        """The HTTPS proxy for Azure's own hostnames (``HTTPS_PROXY``)."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def credential(self) -> EmulatorCredential:
        return EmulatorCredential(self.backend.token)

    def tenant_credential(self, tenant_id: str, client_id: str | None = None) -> Any:
        """An azure-identity ClientSecretCredential that gets tokens of `tenant_id` from this
        emulator's authority: the tenant's admin application (full rights in the default seed),
        or `client_id` (any secret unless the seed registered one)."""
        from azure.identity import ClientSecretCredential

        with self.backend.lock:
            app = self.backend.identity.admin_app(tenant_id)
            secret = app.secret or ""
        return ClientSecretCredential(
            tenant_id,
            client_id or app.client_id,
            secret if client_id is None else "any",
            authority=self.base_url,
            disable_instance_discovery=True,
            connection_verify=str(self.ca_cert),
        )

    def requests(self) -> list[dict[str, Any]]:
        """Every line of requests.jsonl, parsed."""
        return read_request_log(self.requests_file)

    def seed(self, tenants: list[SeedTenant]) -> None:
        """Create the tenants' resources (idempotent) and refresh endpoints.json.

        Seeding a running emulator rewrites endpoints.json after the seed, but the file existed
        before it: processes that wait for the file should get the seed through `start`.
        """
        seed_backend(self.backend, tenants)
        self.save()
        if self.port:
            self._write_endpoints()

    def set_faults(self, spec: str | None) -> None:
        self.faults.set_spec(spec)

    def set_latency(self, ms: float) -> None:
        self.faults.set_latency(ms)

    def deny(self, scope_prefix: str) -> None:
        """Answer ARM requests on resources under this ARM id prefix with 403."""
        with self.backend.lock:
            self.backend.arm.deny(scope_prefix)

    def allow_all(self) -> None:
        """Undo every `deny`."""
        with self.backend.lock:
            self.backend.arm.denied.clear()

    def save(self) -> None:
        """Write the state snapshot now (it is also written periodically and on stop)."""
        self.backend.save(self.state_dir)

    def start(self, tenants: list[SeedTenant] | None = None) -> Emulator:
        """Seed the tenants (if given), listen, then write endpoints.json.

        The file is the readiness signal of the emulator: it appears (atomically) only once the
        server answers and the seed is loaded, so a script that waits for it never races the
        seed, and `stop` removes it before the server goes away. One left by a killed run is
        removed before anything else.
        """
        if self._thread is not None:
            if tenants:
                self.seed(tenants)
            return self
        self.endpoints_file.unlink(missing_ok=True)
        if tenants:
            seed_backend(self.backend, tenants)
            self.save()
        ca = _load_or_create_ca(self.state_dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(ctx)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self._requested_port))
        except OSError as exc:
            sock.close()
            raise UserInputError(
                [f"--port {self._requested_port}: cannot listen on 127.0.0.1: {exc.strerror}"]
            ) from None
        sock.listen(512)
        self.port = sock.getsockname()[1]
        proxy_sock = _listen(self._requested_proxy_port, "--proxy-port", sock)
        self.proxy_port = proxy_sock.getsockname()[1]
        proxy_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*CERTIFICATE_NAMES).configure_cert(proxy_ctx)
        self._dispatcher.log = RequestLog(self.requests_file)
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(sock, ctx, proxy_sock, proxy_ctx),
            name=f"azure-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._start_error is not None:
            self.stop()
            raise RuntimeError(f"emulator did not start: {self._start_error}")
        self._write_endpoints()
        return self

    def stop(self) -> None:
        """Remove endpoints.json, then stop serving and write the state."""
        if self._endpoints_written:
            self.endpoints_file.unlink(missing_ok=True)
            self._endpoints_written = False
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._thread = self._loop = None
        self.save()
        if self._dispatcher.log is not None:
            self._dispatcher.log.close()
            self._dispatcher.log = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- endpoints.json -----------------------------------------------------------------------
    def _write_endpoints(self) -> None:
        self.endpoints = _endpoints_document(self)
        # Token, account keys and client secrets: owner-only, written atomically; endpoints.json
        # last, so that a script waiting for it finds everything else in place.
        write_ca_bundle(self.ca_cert, self.ca_bundle)
        write_atomic(self.env_file, env_script(self.endpoints).encode())
        write_atomic(self.endpoints_file, (json.dumps(self.endpoints, indent=2) + "\n").encode())
        self._endpoints_written = True

    # --- the event loop thread ------------------------------------------------------------------
    def _run(
        self,
        sock: socket.socket,
        ctx: ssl.SSLContext,
        proxy_sock: socket.socket,
        proxy_ctx: ssl.SSLContext,
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup(sock, ctx, proxy_sock, proxy_ctx))
        except BaseException as exc:  # reported to start()
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(
        self,
        sock: socket.socket,
        ctx: ssl.SSLContext,
        proxy_sock: socket.socket,
        proxy_ctx: ssl.SSLContext,
    ) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatcher.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=ctx)
        await site.start()
        server = self._runner.server
        assert server is not None  # set by setup()
        dispatcher = self._dispatcher
        self._proxy_server = await asyncio.get_running_loop().create_server(
            lambda: ProxyProtocol(proxy_ctx, server, lambda: dispatcher.log), sock=proxy_sock
        )
        self._saver = asyncio.get_running_loop().create_task(self._save_periodically())

    async def _shutdown(self) -> None:
        if self._proxy_server is not None:
            self._proxy_server.close()
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        if self._runner is not None:
            await self._runner.cleanup()

    async def _save_periodically(self) -> None:
        # A snapshot holds the backend lock and the event loop while it serialises the whole
        # world (file contents included): ~100 ms for 50 tenants' shares. Wait at least ten times
        # as long as the last one took, so snapshots never take more than ~10% of the loop.
        interval = SAVE_INTERVAL_S
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                self.backend.save(self.state_dir)
            except OSError as exc:  # keep serving; the next round tries again
                log.warning("could not save emulator state: %s", exc)
            interval = max(SAVE_INTERVAL_S, 10 * (time.monotonic() - started))


def _listen(port: int, flag: str, other: socket.socket) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:`port` (0: a free one); closes `other` on failure."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        other.close()
        raise UserInputError(
            [f"{flag} {port}: cannot listen on 127.0.0.1: {exc.strerror}"]
        ) from None
    sock.listen(512)
    return sock


def _endpoints_document(emulator: Emulator) -> dict[str, Any]:
    """What endpoints.json says about a listening emulator: its URLs, CA files, the token, each
    tenant's admin application, the managed identity endpoint and the storage account keys."""
    with emulator.backend.lock:
        accounts = sorted(emulator.backend.files.accounts.items())
        keys = {name: acct.keys[0] for name, acct in accounts}
        identity = emulator.backend.identity
        tenants = {}
        for tenant in identity.tenants:
            admin = identity.admin_app(tenant)
            tenants[tenant] = {
                "client_id": admin.client_id,
                "client_secret": admin.secret,
                "object_id": admin.object_id,
            }
        home = identity.home_tenant
        msi_header = identity.msi_header
        request_token = identity.oidc.request_token()  # the workflow's job context
    return {
        "ca_cert": str(emulator.ca_cert.resolve()),
        "ca_bundle": str(emulator.ca_bundle.resolve()),
        "arm": f"{emulator.base_url}{ARM_PREFIX}",
        "keyvault": f"{emulator.base_url}{KV_PREFIX}/{{vault}}",
        "files": f"{emulator.base_url}/{{account}}",
        "authority": emulator.base_url,
        "proxy": emulator.proxy_url,
        "cloud_metadata": f"{emulator.base_url}{ARM_PREFIX}/metadata/endpoints?api-version="
        f"{METADATA_API_VERSION}",
        "token": emulator.backend.token,
        "token_tenant": ANY_TENANT,
        "tenants": tenants,
        "managed_identity": {
            "endpoint": f"{emulator.base_url}{MSI_PREFIX}/{home}/token" if home else None,
            "header": msi_header,
            "tenant_id": home,
        },
        "github_oidc": {
            "request_url": f"{emulator.base_url}{OIDC_PREFIX}/idtoken?api-version=2.0",
            "request_token": request_token,
        },
        "admin_user": ADMIN_USER,
        "storage_keys": keys,
        "env_file": str(emulator.env_file.resolve()),
        "pid": os.getpid(),
    }
