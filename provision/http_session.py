"""The one HTTP session every SDK client of a run shares: requests, with its environment read
once per host and its settings merged without per-request type probing.

`requests.Session` with `trust_env` reads the environment for every request it sends: the proxy
variables (it walks all of `os.environ`, twice, to match `*_proxy` names case-insensitively, and
checks `NO_PROXY` against the host), `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`, and `~/.netrc` (a
`stat` of two files). `invoke bench --profile` measured that as the largest single cost of the
client's CPU per request, ahead of TLS, HTTP parsing and the SDK pipelines. The environment does
not change during a run, so this session asks requests' own functions once per origin (scheme,
host, port) and per set of explicit settings, and reuses the answer: the same proxies, NO_PROXY
exceptions, CA bundle and netrc credentials as requests would use, at the cost of a dictionary
lookup.

requests then merges each request's headers, params, auth and proxies with the session's
through `merge_setting`, whose `to_key_val_list` asks `isinstance(value, SupportsItems)` of a
runtime-checkable Protocol (requests 2.32+): a walk of the protocol's attributes, several times
per request (the profile's `typing._get_protocol_attrs`, ~9 calls per request). `_merged` is the
same merge for the mappings it is given (a mapping's items, in order, request over session,
`None` dropping a key), with an ABC check that Python caches.

azure-core's transport calls `Session.request` with headers, a body, the TLS settings and
`allow_redirects=False`, never with params, files, json, cookies, auth or hooks. For exactly that
call `request` prepares the request itself, in requests' own steps (method, URL, headers with
their validity checks, body and Content-Length, URL credentials), and skips only what cannot
apply: merging empty cookie jars, params, auth and hooks (a micro-benchmark of the session's own
CPU per request: 131 -> 106 us). Any other call, or a session that holds cookies, auth, params
or hooks, takes requests' path unchanged. Sending (`Session.send`: the adapter, cookies set by
the reply, redirect detection, reading the body) is requests' own.

`OriginAdapter` is requests' HTTPAdapter that works out, once per origin and TLS settings, what
HTTPAdapter works out on every request from the same inputs: the connection pool's key (a parse
of the URL and an `isdir` of the CA bundle) and the TLS attributes of the connection (an
`exists` and an `isdir` of the bundle). A bundle that is missing raises requests' own OSError on
every request, as before; one removed during a run makes new TLS connections fail as connection
errors (azure-core retries them, then reports them).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from http import cookiejar
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, merge_cookies
from requests.sessions import merge_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies, get_netrc_auth

__all__ = ["EnvOnceSession", "OriginAdapter"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _merged(request_setting: Any, session_setting: Any, dict_class: type = OrderedDict) -> Any:
    """requests' `merge_setting`: the request's value over the session's; two mappings merged
    key by key (the request's winning, a `None` value removing the key)."""
    if session_setting is None:
        return request_setting
    if request_setting is None:
        return session_setting
    if not (isinstance(session_setting, Mapping) and isinstance(request_setting, Mapping)):
        return request_setting
    merged = dict_class(session_setting.items())
    merged.update(request_setting.items())
    for key in [k for k, v in merged.items() if v is None]:
        del merged[key]
    return merged


class EnvOnceSession(requests.Session):
    """requests.Session whose environment settings are read once per origin (thread-safe: a race
    only computes the same answer twice)."""

    def __init__(self) -> None:
        super().__init__()
        # requests reads the environment only while trust_env is set; this class reads it
        # itself, once, in the two places requests would (same functions, same precedence).
        self.trust_env = False
        self._proxies: dict[tuple[str, str | None], dict[str, str]] = {}
        self._netrc: dict[str, Any] = {}

    def merge_environment_settings(
        self,
        url: Any,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        no_proxy = proxies.get("no_proxy") if proxies else None
        key = (_origin(str(url)), no_proxy)
        env_proxies = self._proxies.get(key)
        if env_proxies is None:
            env_proxies = dict(get_environ_proxies(str(url), no_proxy=no_proxy))
            self._proxies[key] = env_proxies
        merged = dict(env_proxies)
        merged.update(proxies or {})  # explicit proxies win, as in requests
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return {
            "proxies": _merged(merged, self.proxies),
            "stream": _merged(stream, self.stream),
            "verify": _merged(verify, self.verify),
            "cert": _merged(cert, self.cert),
        }

    def _netrc_auth(self, url: str) -> Any:
        """The origin's ~/.netrc credentials, as requests reads them, looked up once."""
        origin = _origin(url)
        if origin not in self._netrc:
            self._netrc[origin] = get_netrc_auth(url)
        return self._netrc[origin]

    def _plain(self) -> bool:
        """Nothing of the session's own to merge into a request: no cookies, auth, params or
        response hooks."""
        return (
            not self.auth
            and not self.params
            and not any(self.hooks.values())
            and len(self.cookies) == 0
        )

    def request(  # requests' parameters, typed loosely
        self,
        method: str,
        url: Any,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: Any = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        simple = (
            isinstance(url, str)
            and not allow_redirects
            and not (params or cookies or files or auth or hooks)
            and json is None
            and self._plain()
        )
        if simple:
            simple = self._netrc_auth(url) is None
        if not simple:
            return super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                cookies=cookies,
                files=files,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
                proxies=proxies,
                hooks=hooks,
                stream=stream,
                verify=verify,
                cert=cert,
                json=json,
            )
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method.upper())
        prepared.prepare_url(url, "")
        prepared.prepare_headers(_merged(headers, self.headers, dict_class=CaseInsensitiveDict))
        prepared.prepare_cookies(RequestsCookieJar())
        prepared.prepare_body(data or {}, None, None)
        prepared.prepare_auth(None, url)  # credentials written in the URL, as requests does
        settings = self.merge_environment_settings(prepared.url, proxies, stream, verify, cert)
        response: requests.Response = self.send(
            prepared, timeout=timeout, allow_redirects=False, **settings
        )
        return response

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """requests' own preparation (cookies, headers, params, auth, hooks merged with the
        session's), with the netrc credentials of the origin read once."""
        auth = request.auth
        if not auth and not self.auth:
            auth = self._netrc_auth(str(request.url))
        cookies = request.cookies or {}
        if not isinstance(cookies, cookiejar.CookieJar):
            cookies = cookiejar_from_dict(cookies)
        merged_cookies = merge_cookies(merge_cookies(RequestsCookieJar(), self.cookies), cookies)
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=str(request.method).upper(),
            url=request.url,
            files=request.files,
            data=request.data,
            json=request.json,
            headers=_merged(request.headers, self.headers, dict_class=CaseInsensitiveDict),
            params=_merged(request.params, self.params),
            auth=_merged(auth, self.auth),
            cookies=merged_cookies,
            hooks=merge_hooks(request.hooks, self.hooks),
        )
        return prepared


class OriginAdapter(HTTPAdapter):
    """HTTPAdapter whose pool key and TLS checks are worked out once per origin and settings
    (thread-safe: a race only computes the same answer twice)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool_keys: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._tls: dict[tuple[Any, ...], dict[str, Any]] = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        key = (_origin(str(request.url)), verify, cert)
        try:
            known = self._pool_keys.get(key)
        except TypeError:  # settings that cannot be a key: requests' own answer every time
            return super().build_connection_pool_key_attributes(request, verify, cert)
        if known is None:
            known = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = known
        host_params, pool_kwargs = known
        return dict(host_params), dict(pool_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        key = (url[:6].lower() == "https:", verify, cert)
        try:
            settings = self._tls.get(key)
        except TypeError:
            super().cert_verify(conn, url, verify, cert)
            return
        if settings is None:
            # requests' own checks (they raise OSError for a missing bundle or client
            # certificate), applied to a blank object to learn what they set
            probe = SimpleNamespace()
            super().cert_verify(probe, url, verify, cert)
            settings = dict(vars(probe))
            self._tls[key] = settings
        for name, value in settings.items():
            setattr(conn, name, value)
