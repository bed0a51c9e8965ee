"""Code written for Azure's public cloud runs against the emulator with no URL changed: its
HTTPS proxy answers Azure's own hostnames and refuses every other host (issue 28).

Sources of the behaviour relied on:
- requests (``Session.merge_environment_settings``, ``utils.get_environ_proxies``) and aiohttp
  (``ClientSession(trust_env=True)``, ``helpers.get_env_proxy_for_url``) open HTTPS through
  ``HTTPS_PROXY`` with an HTTP CONNECT unless ``NO_PROXY`` matches the host; azure-core's
  ``RequestsTransport`` and ``AioHttpTransport`` keep ``use_env_settings=True`` by default.
- azure-mgmt-machinelearningservices 1.0.1 ``MachineLearningServicesMgmtClient.__init__``:
  ``base_url="https://management.azure.com"`` by default.
- msal ``authority.py``: for ``login.microsoftonline.com`` (a ``WELL_KNOWN_AUTHORITY_HOSTS``
  entry) the tenant's OpenID configuration is read at
  ``https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration``;
  ``application._get_instance_metadata`` reads
  ``https://login.microsoftonline.com/common/discovery/instance?api-version=1.1
  &authorization_endpoint=...`` and takes ``metadata[].aliases``.
- azure-keyvault-secrets ``_shared/challenge_auth_policy.py``: the challenge's ``resource`` must
  be a suffix domain of the vault's host (``https://vault.azure.net`` for
  ``<vault>.vault.azure.net``).
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from emulator_helpers import TENANT, log_since
from test_dropin_programs import FILES_EXPECTED, KEYVAULT_EXPECTED, lines_of, run_program

from provision.emulator import Emulator
from provision.emulator.hostnames import HostRoute, route_host
from provision.emulator.proxy import REFUSED_CODE
from provision.emulator.seed import storage_account_name

VAULT_HOST = f"{TENANT.key_vault}.vault.azure.net"
FILES_HOST = f"{storage_account_name(TENANT)}.file.core.windows.net"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("hostnames")).start([TENANT])
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def via_proxy(world: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """This process's HTTPS through the emulator's proxy, loopback direct, as env.sh sets it."""
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, world.proxy_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(world.ca_bundle))
    return world


class _Connections:
    """Every address this process resolves or connects to while armed (``sys.audit`` events
    ``socket.getaddrinfo`` and ``socket.connect``, raised by CPython for every socket)."""

    def __init__(self) -> None:
        self.armed = False
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> _Connections:
        """Add the audit hook once (it cannot be removed: it stays for the test process)."""
        if not self._installed:
            sys.addaudithook(self._hook)
            self._installed = True
        return self

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event == "socket.getaddrinfo":
            with self._lock:
                self.seen.append((event, str(args[0])))
        elif event == "socket.connect" and isinstance(args[1], tuple):
            with self._lock:
                self.seen.append((event, str(args[1][0])))

    def foreign(self) -> list[tuple[str, str]]:
        return [(event, host) for event, host in self.seen if host not in LOOPBACK]


_CONNECTIONS = _Connections()


# --- the table of hostnames ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "route"),
    [
        ("kv-soc-team.vault.azure.net", HostRoute("keyvault", "kv-soc-team")),
        ("KV-Soc-Team.Vault.Azure.Net:443", HostRoute("keyvault", "kv-soc-team")),
        ("stsoc1.file.core.windows.net", HostRoute("files", "stsoc1")),
        ("management.azure.com", HostRoute("arm")),
        ("login.microsoftonline.com:443", HostRoute("identity")),
        ("management.azure.com.", HostRoute("arm")),
        # Everything else, tricks included, is not an emulated host.
        ("example.com", None),
        ("vault.azure.net", None),
        ("a.b.vault.azure.net", None),
        ("kv.vault.azure.net.attacker.example", None),
        ("kv.vault.usgovcloudapi.net", None),
        ("st_soc.file.core.windows.net", None),
        ("stsoc1.blob.core.windows.net", None),
        ("login.microsoftonline.us", None),
        ("169.254.169.254", None),
        ("[::1]:443", None),
    ],
)
def test_route_host_names_only_azure_public_hostnames(host: str, route: HostRoute | None) -> None:
    assert route_host(host) == route


# --- the done-when programs: real URLs, `source env.sh` only ------------------------------------
def test_env_sh_sends_https_through_the_proxy_and_loopback_direct(world: Emulator) -> None:
    text = Path(world.endpoints["env_file"]).read_text(encoding="utf-8")
    assert f"export HTTPS_PROXY={world.proxy_url} https_proxy={world.proxy_url}" in text
    assert "export NO_PROXY=127.0.0.1,localhost,::1 no_proxy=127.0.0.1,localhost,::1" in text
    assert world.endpoints["proxy"] == world.proxy_url


@pytest.mark.parametrize("program", ["keyvault_secrets.py", "keyvault_secrets_async.py"])
def test_secret_client_at_the_vaults_own_hostname(
    world: Emulator, tmp_path: Path, program: str
) -> None:
    name = "hostname-" + program.removesuffix(".py").replace("_", "-")
    mark = len(world.requests())
    out = lines_of(run_program(world, tmp_path, program, f"https://{VAULT_HOST}", name))
    assert out == [line.format(name=name) for line in KEYVAULT_EXPECTED]
    kv = [e for e in log_since(world, mark) if e["service"] == "keyvault"]
    assert len(kv) > 10 and {e.get("host") for e in kv} == {VAULT_HOST}
    # The first call got Key Vault's challenge; every other call carried the managed
    # identity's token for https://vault.azure.net, the resource the challenge named.
    assert [e["status"] for e in kv].count(401) == 1
    assert {e.get("tenant") for e in kv if e["status"] != 401} == {TENANT.tenant_id}


def test_share_client_at_the_accounts_own_hostname(world: Emulator, tmp_path: Path) -> None:
    mark = len(world.requests())
    result = run_program(world, tmp_path, "files_share.py", f"https://{FILES_HOST}", "hostname")
    assert lines_of(result) == FILES_EXPECTED
    files = [e for e in log_since(world, mark) if e["service"] == "files"]
    assert len(files) > 10 and {e.get("host") for e in files} == {FILES_HOST}
    assert {e.get("tenant") for e in files} == {TENANT.tenant_id}  # token, backup intent


def test_ml_client_without_base_url(world: Emulator, tmp_path: Path) -> None:
    mark = len(world.requests())
    result = run_program(
        world,
        tmp_path,
        "ml_workspaces_public_cloud.py",
        TENANT.subscription_id,
        TENANT.resource_group,
        TENANT.workspace,
    )
    computes = sorted(compute for _, compute in TENANT.users)
    assert lines_of(result) == [
        f"sync-workspace {TENANT.workspace} {TENANT.location}",
        f"sync-computes {computes}",
        f"async-subscription ['{TENANT.workspace}']",
    ]
    arm = [e for e in log_since(world, mark) if e["service"] == "arm"]
    assert {e["op"] for e in arm} == {
        "GetWorkspace",
        "ListComputes",
        "ListWorkspacesBySubscription",
    }
    assert {e.get("host") for e in arm} == {"management.azure.com"}


def test_arm_names_vaults_and_shares_by_their_azure_hostnames(via_proxy: Emulator) -> None:
    # What a client reads from Resource Manager it can call as it would in Azure.
    token = via_proxy.backend.token
    sub, rg = TENANT.subscription_id, TENANT.resource_group
    base = f"https://management.azure.com/subscriptions/{sub}/resourceGroups/{rg}/providers"
    headers = {"Authorization": f"Bearer {token}"}
    vault = requests.get(
        f"{base}/Microsoft.KeyVault/vaults/{TENANT.key_vault}?api-version=2023-07-01",
        headers=headers,
        timeout=30,
    )
    assert vault.status_code == 200, vault.text
    assert vault.json()["properties"]["vaultUri"] == f"https://{VAULT_HOST}/"
    account = storage_account_name(TENANT)
    storage = requests.get(
        f"{base}/Microsoft.Storage/storageAccounts/{account}?api-version=2023-05-01",
        headers=headers,
        timeout=30,
    )
    assert storage.status_code == 200, storage.text
    assert storage.json()["properties"]["primaryEndpoints"]["file"] == f"https://{FILES_HOST}/"


# --- Entra at login.microsoftonline.com ----------------------------------------------------------
def test_client_secret_credential_with_its_defaults(via_proxy: Emulator) -> None:
    admin = via_proxy.endpoints["tenants"][TENANT.tenant_id]
    # No authority, no disable_instance_discovery: azure-identity's defaults for Azure.
    credential = ClientSecretCredential(
        TENANT.tenant_id, admin["client_id"], admin["client_secret"]
    )
    client = SecretClient(f"https://{VAULT_HOST}", credential)
    mark = len(via_proxy.requests())
    client.set_secret("hostname-client-secret", "from-the-real-authority")
    assert client.get_secret("hostname-client-secret").value == "from-the-real-authority"
    identity = [e for e in log_since(via_proxy, mark) if e["service"] == "identity"]
    assert [(e["op"], e["status"], e["host"]) for e in identity] == [
        ("GetOpenIdConfiguration", 200, "login.microsoftonline.com"),
        ("GetToken", 200, "login.microsoftonline.com"),
    ]
    assert identity[0]["path"] == f"/{TENANT.tenant_id}/v2.0/.well-known/openid-configuration"


def test_instance_discovery_answers_as_entra(via_proxy: Emulator) -> None:
    admin = via_proxy.endpoints["tenants"][TENANT.tenant_id]
    app = msal.ConfidentialClientApplication(
        admin["client_id"],
        client_credential=admin["client_secret"],
        authority=f"https://login.microsoftonline.com/{TENANT.tenant_id}",
    )
    result = app.acquire_token_for_client(["https://vault.azure.net/.default"])
    assert result.get("token_type") == "Bearer", result.get("error_description")
    mark = len(via_proxy.requests())
    # msal asks instance discovery for the aliases of its authority's host.
    aliases = app._get_authority_aliases("login.microsoftonline.com")
    assert set(aliases) == {"login.windows.net", "login.microsoft.com", "sts.windows.net"}
    log = log_since(via_proxy, mark)
    assert [(e["op"], e["status"]) for e in log] == [("GetInstanceDiscovery", 200)]
    body = requests.get(
        "https://login.microsoftonline.com/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/v2.0/"
            "authorize",
        },
        timeout=30,
    ).json()
    assert body["tenant_discovery_endpoint"] == (
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    )
    unknown = requests.get(
        "https://login.microsoftonline.com/common/discovery/instance",
        params={"api-version": "1.1", "authorization_endpoint": "https://idp.example/t/oauth2/x"},
        timeout=30,
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_instance"


# --- everything else: 502, logged, and no connection anywhere ----------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://kv-soc-team.vault.azure.net.attacker.example/secrets/x",
        "https://management.azure.com:8443/subscriptions",
        "https://20.190.151.68/",  # an address of login.microsoftonline.com, by number
        "https://storage.azure.com/",
    ],
)
def test_other_hosts_get_502_and_nothing_leaves_the_machine(via_proxy: Emulator, url: str) -> None:
    mark = len(via_proxy.requests())
    _CONNECTIONS.install().seen.clear()
    _CONNECTIONS.armed = True
    try:
        with pytest.raises(requests.exceptions.ProxyError, match="502 Bad Gateway"):
            requests.get(url, timeout=30)
    finally:
        _CONNECTIONS.armed = False
    # The client connected to the proxy and nowhere else, and neither it nor the emulator's
    # proxy (same process, its own thread) resolved or connected to anything else.
    assert ("socket.connect", "127.0.0.1") in _CONNECTIONS.seen
    assert _CONNECTIONS.foreign() == []
    target = url.split("/")[2]
    target = target if ":" in target else f"{target}:443"
    assert [
        (e["service"], e["method"], e["path"], e["status"], e["error"])
        for e in log_since(via_proxy, mark)
    ] == [("proxy", "CONNECT", target, 502, REFUSED_CODE)]


def _raw(world: Emulator, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", world.proxy_port), timeout=10) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_plain_http_and_malformed_requests_get_502(world: Emulator) -> None:
    answer = _raw(world, b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
    status, _, body = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 502 Bad Gateway"
    assert b"only opens HTTPS tunnels (CONNECT)" in body
    answer = _raw(world, b"CONNECT management.azure.com HTTP/1.1\r\n\r\n")  # no port
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")
    answer = _raw(world, b"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\nearly")
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")


def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(world: Emulator) -> None:
    # The proxy's certificate comes from the emulator's CA, never from a public one.
    with socket.create_connection(("127.0.0.1", world.proxy_port), timeout=10) as sock:
        sock.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 Connection Established")
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(sock, server_hostname="management.azure.com")
    trusting = ssl.create_default_context(cafile=str(world.ca_cert))
    with socket.create_connection(("127.0.0.1", world.proxy_port), timeout=10) as sock:
        sock.sendall(b"CONNECT kv-soc-team.vault.azure.net:443 HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 Connection Established")
        with trusting.wrap_socket(sock, server_hostname=VAULT_HOST) as tls:
            tls.sendall(b"GET /secrets?api-version=7.5 HTTP/1.1\r\nHost: " + VAULT_HOST.encode())
            tls.sendall(b"\r\nConnection: close\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 401")  # Key Vault's challenge


def test_path_style_endpoints_go_direct(world: Emulator, tmp_path: Path) -> None:
    # NO_PROXY keeps the 127.0.0.1 endpoints off the proxy: nothing is refused there.
    mark = len(world.requests())
    vault = world.endpoints["keyvault"].format(vault=TENANT.key_vault)
    out = lines_of(run_program(world, tmp_path, "keyvault_secrets.py", vault, "hostname-direct"))
    assert out[0] == "get second text/plain soc"
    log = log_since(world, mark)
    assert not [e for e in log if e["service"] == "proxy"]
    assert not [e for e in log if e.get("host")]
