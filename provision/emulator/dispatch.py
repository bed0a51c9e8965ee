"""The emulator's request dispatch: one aiohttp request in, one service's answer out.

`RequestDispatcher.handle` is the one route of the server's aiohttp application. It tells the
service from the path (ARM, Key Vault, Azure Files or the identity endpoints), builds a
`WireRequest`, routes it, applies the fault injector's delay or injected failure, checks that the
vault or storage account exists, authenticates, asks the throttling model (`throttle.py`, off
unless given a SPEC) and handles the operation under the backend lock,
and answers with ``x-ms-request-id`` (and the client's ``x-ms-client-request-id``), writing one
line of the request log per request. Lifecycle (TLS, the event loop, state, endpoints.json) is
`server.Emulator`'s.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

from aiohttp import web

from provision.emulator.arm.responses import ArmWire
from provision.emulator.faults import FaultInjector
from provision.emulator.files.responses import FilesWire
from provision.emulator.hostnames import route_host
from provision.emulator.identity import urls as identity_urls
from provision.emulator.identity.responses import IdentityWire
from provision.emulator.keyvault.responses import KeyVaultWire
from provision.emulator.requestlog import RequestLog
from provision.emulator.state import Backend
from provision.emulator.throttle import Throttle
from provision.emulator.wire import (
    ARM_PREFIX,
    KV_PREFIX,
    NotEmulated,
    ServiceError,
    ServiceWire,
    WireRequest,
    WireResponse,
    new_request_id,
)

__all__ = ["RequestDispatcher"]


class RequestDispatcher:
    """Answers the emulator's HTTPS requests: one service wire per service, one fault injector,
    and the request log (``log``; None while the server is not listening)."""

    def __init__(
        self, backend: Backend, faults: FaultInjector, throttle: Throttle | None = None
    ) -> None:
        self.backend = backend
        self.faults = faults
        self.throttle = throttle or Throttle(None)
        self._services: dict[str, ServiceWire] = {
            "arm": ArmWire(backend),
            "keyvault": KeyVaultWire(backend),
            "files": FilesWire(backend),
            "identity": IdentityWire(backend),
        }
        self.log: RequestLog | None = None

    def _split(self, method: str, path: str) -> tuple[str, str, str, str]:
        """(service, prefix, scope, path below the prefix) of a decoded request path."""
        if identity_urls.match(method, path) is not None:
            return "identity", "", "", path
        if path == ARM_PREFIX or path.startswith(ARM_PREFIX + "/"):
            return "arm", ARM_PREFIX, "", path[len(ARM_PREFIX) :]
        if path.startswith(KV_PREFIX + "/"):
            vault, _, rest = path[len(KV_PREFIX) + 1 :].partition("/")
            return "keyvault", f"{KV_PREFIX}/{vault}", vault, "/" + rest
        account, _, rest = path[1:].partition("/")
        return "files", f"/{account}", account, "/" + rest

    def _split_host(self, method: str, host: str, path: str) -> tuple[str, str, str, str] | None:
        """`_split` of a request that named one of Azure's public hostnames (through the
        proxy): the host says the service and the vault or account, the path is the service's
        own. None for any other host (the path-style endpoints)."""
        route = route_host(host)
        if route is None:
            return None
        return route.service, "", route.scope, path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path, _, query_string = request.raw_path.partition("?")
        path = unquote(raw_path)
        split = self._split_host(request.method, request.host, path)
        public_host = split is not None
        service, prefix, scope, sub_path = split or self._split(request.method, path)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        req = WireRequest(
            method=request.method,
            raw_path=raw_path,
            path=sub_path,
            query_string=query_string,
            headers=headers,
            body=await request.read(),
            base_url=f"{request.scheme}://{request.host}",
            prefix=prefix,
            scope=scope,
            raw_headers=list(request.headers.items()),
            request_id=new_request_id(),
            public_host=public_host,
        )
        wire = self._services[service]
        lock = self.backend.lock
        op = "Unknown"
        try:
            with lock:
                op, params = wire.route(req)
            req.params = params
        except ServiceError as err:
            if isinstance(err, NotEmulated):
                op = err.operation
            return self._reply(request, wire, req, op, wire.render_error(err, req), err.code)
        decision = self.faults.decide(service, op)
        if decision.delay_s > 0:
            await asyncio.sleep(decision.delay_s)
        failure = decision.failure
        if failure is not None:
            if failure.kind == "reset":
                return self._drop(request, req, service, op, fault="reset")
            injected = wire.injected_error(int(failure.kind), failure.retry_after)
            return self._reply(
                request,
                wire,
                req,
                op,
                wire.render_error(injected, req),
                injected.code,
                fault=failure.kind,
            )
        error_code: str | None = None
        with lock:
            if not wire.scope_exists(req):
                missing = "VaultNotFound" if service == "keyvault" else "AccountNotFound"
                return self._drop(request, req, service, op, error=missing)
            fault: str | None = None
            try:
                wire.authenticate(req, op)
                admission = self.throttle.admit(
                    service, op, req.method, req.path, scope, req.caller[1] if req.caller else ""
                )
                if admission.error is not None:
                    fault = "throttle"
                    raise admission.error
                response = wire.handle(req, op, params)
                response.headers.update(admission.headers)
            except ServiceError as err:
                response, error_code = wire.render_error(err, req), err.code
        return self._reply(request, wire, req, op, response, error_code, fault=fault)

    def _reply(
        self,
        request: web.Request,
        wire: ServiceWire,
        req: WireRequest,
        op: str,
        response: WireResponse,
        error_code: str | None,
        fault: str | None = None,
    ) -> web.StreamResponse:
        headers = response.headers
        headers["x-ms-request-id"] = req.request_id
        client_id = req.header("x-ms-client-request-id")
        if client_id:
            headers["x-ms-client-request-id"] = client_id
        if self.log is not None:
            self.log.write(
                wire.name,
                req.method,
                unquote(req.raw_path),
                response.status,
                op,
                fault=fault,
                error=error_code,
                tenant=req.caller[0] if req.caller else None,
                principal=req.caller[1] if req.caller else None,
                host=request.host if req.public_host else None,
            )
        if request.method == "HEAD" and "Content-Length" in headers:
            # The size of the resource, not of this (empty) answer: a StreamResponse keeps it.
            length = int(headers.pop("Content-Length"))
            head = web.StreamResponse(status=response.status, headers=headers)
            head.content_length = length
            return head
        return web.Response(status=response.status, headers=headers, body=response.body)

    def _drop(
        self,
        request: web.Request,
        req: WireRequest,
        service: str,
        op: str,
        *,
        fault: str | None = None,
        error: str | None = None,
    ) -> web.Response:
        if self.log is not None:
            self.log.write(
                service,
                req.method,
                unquote(req.raw_path),
                0,
                op,
                fault=fault,
                error=error,
                host=request.host if req.public_host else None,
            )
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Writing this to the aborted transport fails with ConnectionError, which aiohttp takes
        # as a client that went away: nothing is sent and nothing is logged.
        return web.Response(status=500)
