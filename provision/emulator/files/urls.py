"""Azure Files routes. Storage picks the operation from the method, the depth of the path and the
``restype``/``comp`` query parameters rather than from path words, so this is a decision table
over (level, restype, comp, method) instead of a list of patterns.

Path-style addressing: ``/<account>/<share>/<dir>/<file>``; the share URL with
``restype=directory`` is the share's root directory.
"""

from __future__ import annotations

from provision.emulator.files.exceptions import FilesError

__all__ = ["OPERATIONS", "resolve"]

# (level, restype, comp, method) -> operation; level is "service", "share" or "path".
_TABLE: dict[tuple[str, str, str, str], str] = {
    ("service", "", "list", "GET"): "ListShares",
    ("service", "service", "properties", "GET"): "GetServiceProperties",
    ("share", "share", "", "PUT"): "CreateShare",
    ("share", "share", "", "GET"): "GetShareProperties",
    ("share", "share", "", "HEAD"): "GetShareProperties",
    ("share", "share", "", "DELETE"): "DeleteShare",
    ("share", "share", "metadata", "PUT"): "SetShareMetadata",
    ("share", "share", "metadata", "GET"): "GetShareProperties",
    ("path", "directory", "", "PUT"): "CreateDirectory",
    ("path", "directory", "", "GET"): "GetDirectoryProperties",
    ("path", "directory", "", "HEAD"): "GetDirectoryProperties",
    ("path", "directory", "", "DELETE"): "DeleteDirectory",
    ("path", "directory", "list", "GET"): "ListFilesAndDirectories",
    ("path", "directory", "metadata", "PUT"): "SetDirectoryMetadata",
    ("path", "directory", "properties", "PUT"): "SetDirectoryProperties",
    ("path", "directory", "rename", "PUT"): "RenameDirectory",
    ("path", "", "", "PUT"): "CreateFile",
    ("path", "", "range", "PUT"): "PutRange",
    ("path", "", "", "GET"): "GetFile",
    ("path", "", "", "HEAD"): "GetFileProperties",
    ("path", "", "properties", "PUT"): "SetFileProperties",
    ("path", "", "metadata", "PUT"): "SetFileMetadata",
    ("path", "", "", "DELETE"): "DeleteFile",
    ("path", "", "rename", "PUT"): "RenameFile",
    ("path", "", "lease", "PUT"): "LeaseFile",
    ("path", "", "rangelist", "GET"): "ListRanges",
}

OPERATIONS: tuple[str, ...] = tuple(dict.fromkeys(_TABLE.values()))


def resolve(method: str, segments: list[str], query: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Operation and parameters (share, path) for decoded segments below the account."""
    restype = query.get("restype", "").lower()
    comp = query.get("comp", "").lower()
    params: dict[str, str] = {}
    if not segments:
        level = "service"
    else:
        params["share"] = segments[0]
        params["path"] = "/".join(segments[1:])
        level = "share" if len(segments) == 1 and restype != "directory" else "path"
    op = _TABLE.get((level, restype, comp, method))
    if op is None:
        code = "UnsupportedHttpVerb" if level == "path" else "InvalidQueryParameterValue"
        raise FilesError(
            f"The requested operation (method {method}, restype={restype!r}, "
            f"comp={comp!r}) is not supported here.",
            status=400,
            code=code,
        )
    return op, params
