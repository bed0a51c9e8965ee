"""The emulator's HTTPS proxy: Azure's own hostnames, answered on this machine.

``HTTPS_PROXY=http://127.0.0.1:PORT`` (env.sh exports it) makes every HTTPS client (requests,
aiohttp, and so the Azure SDK's transports) open its connections with an HTTP ``CONNECT
host:443`` to this proxy. For a host the emulator answers (`hostnames.route_host`: vaults,
storage accounts, Resource Manager, Entra's authority) the proxy says ``200 Connection
Established``, terminates TLS itself with a certificate from the emulator's CA (the CA that
env.sh's bundle already trusts), and hands the decrypted connection to the emulator's own aiohttp
application, which tells the service from the ``Host`` header as it does from the path for the
path-style endpoints.

What the proxy never does: open a connection. Every other target (any other host name, any IP
address, a port other than 443, a request that is not CONNECT) gets ``502 Bad Gateway`` with a
one-line reason, is written to the request log (service ``proxy``, error ``HostNotEmulated``),
and the connection is closed. The decision is made on the name alone: nothing is resolved, so
not even a DNS query leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable

from provision.emulator.hostnames import route_host
from provision.emulator.requestlog import RequestLog

__all__ = ["MAX_HEAD_BYTES", "REFUSED_CODE", "ProxyProtocol"]

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024  # a CONNECT request is one line and a few headers
HANDSHAKE_TIMEOUT_S = 30.0
REFUSED_CODE = "HostNotEmulated"
_ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"


def _status(code: int, reason: str, text: str) -> bytes:
    body = (text + "\n").encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nX-Emulator-Proxy: refused\r\n\r\n"
    )
    return head.encode("ascii") + body


def _target(authority: str) -> tuple[str, int | None]:
    """Host and port of a CONNECT target (``host:port`` or ``[v6]:port``); port None if absent
    or not a number."""
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    return host, int(port_text) if port_text.isdigit() else None


class ProxyProtocol(asyncio.Protocol):
    """One client connection to the proxy: read the CONNECT head, then refuse it (502) or
    become a TLS server for the named host and pass the connection to `handler_factory()` (the
    aiohttp server's protocol factory)."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        handler_factory: Callable[[], asyncio.BaseProtocol],
        request_log: Callable[[], RequestLog | None],
    ) -> None:
        self._tls = tls
        self._handler_factory = handler_factory
        self._request_log = request_log
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._state = "head"  # -> "tls" (handshake) | "closed"
        self._early: list[bytes] = []  # decrypted bytes that arrive before the handler is set

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._state == "tls":
            self._early.append(data)  # after the handshake, before the handler took over
            return
        if self._state != "head":
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD_BYTES:
                self._refuse("", "", "the request head is too long")
            return
        if end + 4 != len(self._head):
            # A client sends nothing after CONNECT before it reads our answer.
            self._refuse("", "", "data after the CONNECT request before the tunnel opened")
            return
        line = bytes(self._head[: self._head.find(b"\r\n")]).decode("latin-1")
        method, _, rest = line.partition(" ")
        target = rest.rpartition(" ")[0] if " " in rest else rest
        if method != "CONNECT":
            self._refuse(
                method,
                target,
                f"this proxy only opens HTTPS tunnels (CONNECT) to the emulated Azure hosts; "
                f"refused {method} {target}",
            )
            return
        host, port = _target(target)
        route = route_host(host) if port == 443 else None
        if route is None:
            self._refuse(
                method,
                target,
                f"{target} is not an emulated Azure host; the emulator proxy never connects "
                "anywhere else",
            )
            return
        assert self._transport is not None
        # No byte may reach this protocol between our answer and start_tls taking the
        # transport over (the client's TLS hello would be lost): stop reading first.
        self._transport.pause_reading()
        self._transport.write(_ESTABLISHED)
        self._state = "tls"
        asyncio.get_running_loop().create_task(self._serve_tls(target))

    async def _serve_tls(self, target: str) -> None:
        transport = self._transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        try:
            tls_transport = await loop.start_tls(
                transport,
                self,
                self._tls,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            )
        except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError) as exc:
            log.info("TLS handshake for %s failed: %s", target, exc)
            self._state = "closed"
            transport.abort()
            return
        if tls_transport is None:  # the client went away during the handshake
            self._state = "closed"
            return
        handler = self._handler_factory()
        tls_transport.set_protocol(handler)
        handler.connection_made(tls_transport)
        early, self._early = self._early, []
        self._state = "handed-over"
        if early and isinstance(handler, asyncio.Protocol):
            handler.data_received(b"".join(early))

    def _refuse(self, method: str, target: str, reason: str) -> None:
        self._state = "closed"
        log.warning("proxy refused %s %s: %s", method or "-", target or "-", reason)
        request_log = self._request_log()
        if request_log is not None:
            request_log.write(
                "proxy", method or "-", target or "-", 502, "Connect", error=REFUSED_CODE
            )
        if self._transport is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self._transport.write(_status(502, "Bad Gateway", reason))
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = "closed"
