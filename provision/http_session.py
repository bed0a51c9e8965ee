"""The one HTTP session every SDK client of a run shares: requests, with its environment read
once per origin.

`requests.Session` with `trust_env` reads the environment for every request it sends, in
`Session.merge_environment_settings`: the proxy variables (it walks all of `os.environ`, twice,
to match `*_proxy` names case-insensitively, and checks `NO_PROXY` against the host) and
`REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`. `invoke bench --profile` measured that read at about
21 % of the client's CPU, the largest single cost ahead of TLS, HTTP parsing and the SDK
pipelines. The environment does not change during a run, so this session overrides that one
method: it asks requests' own `get_environ_proxies` once per origin (scheme, host, port) and
`no_proxy` setting, and merges the answer with the session's settings through requests' own
`merge_setting`, as requests does. Everything else is requests' own, unchanged: preparing the
request (~/.netrc credentials included), sending it, the adapter and its TLS checks.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

__all__ = ["EnvOnceSession"]

# (proxies from the environment, CA bundle from the environment or None)
_Environment = tuple[dict[str, str], str | None]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class EnvOnceSession(requests.Session):
    """requests.Session whose environment settings are read once per origin (thread-safe: a race
    only computes the same answer twice)."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str | None], _Environment] = {}

    def _read_environment(self, url: str, no_proxy: str | None) -> _Environment:
        key = (_origin(url), no_proxy)
        known = self._environment.get(key)
        if known is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            known = (dict(get_environ_proxies(url, no_proxy=no_proxy)), bundle)
            self._environment[key] = known
        return known

    def merge_environment_settings(
        self,
        url: Any,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        if not self.trust_env:  # nothing to read: requests' own merge
            settings: dict[str, Any] = super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
            return settings
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        env_proxies, bundle = self._read_environment(str(url), no_proxy)
        if proxies is not None:
            for scheme, proxy in env_proxies.items():
                proxies.setdefault(scheme, proxy)  # explicit proxies win, as in requests
        if (verify is True or verify is None) and bundle:
            verify = bundle
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }
