"""The source of a Copy File (``x-ms-copy-source``): which account, share, snapshot and path.

Clients write the source as a URL: the real-Azure form
``https://<account>.file.core.windows.net/<share>/<path>`` (what `ShareFileClient.url` is in
Azure, and what a program written for Azure passes), or the emulator's path-style form
``https://127.0.0.1:PORT/<account>/<share>/<path>``; either may carry ``?sharesnapshot=``.
The emulator copies within the destination's account, which Shared Key or a token on the
destination authorises in Azure too; a source in another account needs a SAS there, which the
emulator does not take, so that answers "not emulated".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from provision.emulator.files.exceptions import MissingRequiredHeader, invalid_header
from provision.emulator.wire import NotEmulated

__all__ = ["copy_source"]

# <account>.file.core.windows.net and the sovereign clouds' file.core.<suffix> host names.
_AZURE_HOST_RE = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.file\.core\.[a-z0-9.-]+$")


def copy_source(value: str, account: str) -> tuple[str, str, str, list[str]]:
    """(account, share, snapshot, path parts) of a copy source URL, for a copy into account."""
    if not value:
        raise MissingRequiredHeader(detail={"HeaderName": "x-ms-copy-source"})
    url = urlsplit(value)
    if url.scheme.lower() not in ("https", "http") or not url.hostname:
        raise invalid_header("x-ms-copy-source", value)
    segments = [unquote(s) for s in url.path.split("/") if s]
    host = _AZURE_HOST_RE.match(url.hostname.lower())
    if host is not None:
        source_account = host["account"]
    elif segments:
        source_account, segments = segments[0], segments[1:]
    else:
        raise invalid_header("x-ms-copy-source", value)
    if len(segments) < 2:
        raise invalid_header("x-ms-copy-source", value)
    if source_account != account:
        raise NotEmulated("CopyFile from another storage account", "PUT", value.split("?")[0])
    snapshot = parse_qs(url.query).get("sharesnapshot", [""])[0]
    return source_account, segments[0], snapshot, segments[1:]
