"""What a request costs the client beyond sending it: the environment read once per host, and
one token request per tenant and kind of token however many requests start together."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from support import EXAMPLE

from provision.azure import Clients, load_endpoints_file
from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.http_session import EnvOnceSession
from provision.inventory.load import load_inventory


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emu") as e:
        e.seed(seed_tenants_from_inventory(load_inventory(EXAMPLE)))
        yield e


@pytest.mark.parametrize(
    "url",
    [
        "https://kv.vault.azure.net/secrets/a?api-version=7.5",
        "https://inside.corp.example/x",
        "http://management.azure.com/subscriptions",
    ],
)
def test_environment_settings_are_those_requests_would_use(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:8080")
    monkeypatch.setenv("NO_PROXY", "corp.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    plain, once = requests.Session(), EnvOnceSession()
    for _ in range(2):  # the second answer comes from the cache
        assert once.merge_environment_settings(url, {}, None, None, None) == (
            plain.merge_environment_settings(url, {}, None, None, None)
        )
    explicit = {"https": "http://other:1"}
    assert once.merge_environment_settings(url, dict(explicit), None, True, None) == (
        plain.merge_environment_settings(url, dict(explicit), None, True, None)
    )


def test_the_environment_is_read_once_per_origin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = EnvOnceSession()
    url = "https://kv.vault.azure.net/secrets/a"
    first = session.merge_environment_settings(url, {}, None, None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://moved.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    # the same origin: the answer read the first time (a run's environment does not change)
    again = session.merge_environment_settings(url.replace("/a", "/b"), {}, None, None, None)
    assert again == first and first["proxies"]["https"] == "http://proxy.example:3128"
    # another origin is read when first asked for
    other = session.merge_environment_settings("https://x.vault.azure.net/", {}, None, None, None)
    assert other["proxies"]["https"] == "http://moved.example:3128"
    assert other["verify"] == str(tmp_path / "ca.pem")


def test_without_trust_env_nothing_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    plain, once = requests.Session(), EnvOnceSession()
    plain.trust_env = once.trust_env = False
    url = "https://kv.vault.azure.net/secrets/a"
    want = plain.merge_environment_settings(url, {}, None, None, None)
    assert once.merge_environment_settings(url, {}, None, None, None) == want
    assert "https" not in want["proxies"]


def test_the_session_changes_only_the_environment_read() -> None:
    # request preparation, sending and the adapter are requests' own (issue 22: no copy of them)
    own = sorted(name for name, value in vars(EnvOnceSession).items() if callable(value))
    assert own == ["__init__", "_read_environment", "merge_environment_settings"]


def test_requests_started_together_ask_for_one_token(emu: Emulator) -> None:
    inv = load_inventory(EXAMPLE)
    tenant = inv.tenants[0]
    clients = Clients(8, load_endpoints_file(emu.endpoints_file))
    credential = clients.credential(tenant)
    start = len(emu.requests())
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def ask() -> None:
        barrier.wait()
        tokens.append(credential.get_token("https://management.azure.com/.default").token)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked = [r["op"] for r in emu.requests()[start:] if r["service"] == "identity"]
    assert len(set(tokens)) == 1
    assert asked.count("GetToken") == 1, asked
    clients.close()


def test_a_done_tenants_clients_are_released_and_shared_ones_kept(emu: Emulator) -> None:
    inv = load_inventory(EXAMPLE)
    first, second = inv.tenants[0], inv.tenants[1]
    clients = Clients(4, load_endpoints_file(emu.endpoints_file))
    ml_first, ml_second = clients.ml(first), clients.ml(second)
    shared = clients.share(first, "acct", "share", "a2V5")
    assert clients.share(second, "acct", "share", "a2V5") is shared  # one share, two tenants
    assert clients.ml(first) is ml_first  # cached while the tenant runs
    clients.release(first)
    assert clients.ml(second) is ml_second
    assert clients.share(second, "acct", "share", "a2V5") is shared  # still in use
    assert clients.ml(first) is not ml_first  # made again if asked for after release
    clients.release(first)
    clients.release(second)
    assert clients.share(second, "acct", "share", "a2V5") is not shared
    clients.close()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with 200 and keeps what arrived on the wire."""

    seen: ClassVar[list[tuple[str, str, list[tuple[str, str]], bytes]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, list(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "headers", "data"),
    [
        ("PUT", "/share/dir/a b.txt?comp=range", {"x-ms-range": "bytes=0-2"}, b"abc"),
        ("GET", "/secrets/n%C3%A4me?api-version=7.5", {"Accept": "application/json"}, None),
        ("DELETE", "/share/f.txt", {"x-ms-lease-id": "1", "User-Agent": None}, b""),
        ("PUT", "/secrets/s", {"Content-Type": "application/json"}, '{"value": "v"}'),
    ],
)
def test_the_sdk_transports_call_sends_what_requests_sends(
    recorder: str, method: str, path: str, headers: dict[str, str | None], data: object
) -> None:
    # azure-core's RequestsTransport.send calls session.request(method, url, headers=, data=,
    # files=, verify=, timeout=, cert=, allow_redirects=False, proxies=): the same call on the
    # wire from requests' own Session and from EnvOnceSession.
    got = []
    for session in (requests.Session(), EnvOnceSession()):
        _Recorder.seen.clear()
        reply = session.request(
            method,
            recorder + path,
            headers=dict(headers),
            data=data,
            files=None,
            verify=True,
            timeout=(5, 5),
            cert=None,
            allow_redirects=False,
            proxies=None,
        )
        assert (reply.status_code, reply.content) == (200, b"ok")
        got.append(list(_Recorder.seen))
    assert got[0] == got[1]
    assert len(got[0]) == 1
