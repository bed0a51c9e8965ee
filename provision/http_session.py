"""The one HTTP session every SDK client of a run shares: requests, with its environment read
once per host instead of on every request.

`requests.Session` with `trust_env` reads the environment for every request it sends: the proxy
variables (it walks all of `os.environ`, twice, to match `*_proxy` names case-insensitively, and
checks `NO_PROXY` against the host), `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`, and `~/.netrc` (a
`stat` of two files). `invoke bench --profile` measured that as the largest single cost of the
client's CPU per request, ahead of TLS, HTTP parsing and the SDK pipelines. The environment does
not change during a run, so this session asks requests' own functions once per origin (scheme,
host, port) and per set of explicit settings, and reuses the answer: the same proxies, NO_PROXY
exceptions, CA bundle and netrc credentials as requests would use, at the cost of a dictionary
lookup.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies, get_netrc_auth

__all__ = ["EnvOnceSession"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


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
        settings: dict[str, Any] = super().merge_environment_settings(
            url, merged, stream, verify, cert
        )
        return settings

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if not request.auth and not self.auth:
            origin = _origin(str(request.url))
            if origin not in self._netrc:
                self._netrc[origin] = get_netrc_auth(str(request.url))
            request.auth = self._netrc[origin]
        return super().prepare_request(request)
