"""Azure Files routes. Storage picks the operation from the method, the depth of the path and the
``restype``/``comp`` query parameters rather than from path words, so this is a decision table
over (level, restype, comp, method) instead of a list of patterns.

Path-style addressing: ``/<account>/<share>/<dir>/<file>``; the share URL with
``restype=directory`` is the share's root directory. Two operations share a line of the table
with another and are told apart by a header, as the service does: Copy File is a file PUT with
``x-ms-copy-source``, Put Range From URL a range PUT with it.

A request the table does not hold is an operation the emulator does not implement: NotEmulated
(501 NotImplementedByEmulator), named after the Azure operation when it is one of the File
service's (`NOT_EMULATED`), so a user never mistakes it for an error in their request.
"""

from __future__ import annotations

from provision.emulator.wire import NotEmulated

__all__ = ["NOT_EMULATED", "OPERATIONS", "resolve"]

# (level, restype, comp, method) -> operation; level is "service", "share" or "path".
_TABLE: dict[tuple[str, str, str, str], str] = {
    ("service", "", "list", "GET"): "ListShares",
    ("service", "service", "properties", "GET"): "GetServiceProperties",
    ("service", "service", "properties", "PUT"): "SetServiceProperties",
    ("share", "share", "", "PUT"): "CreateShare",
    ("share", "share", "", "GET"): "GetShareProperties",
    ("share", "share", "", "HEAD"): "GetShareProperties",
    ("share", "share", "", "DELETE"): "DeleteShare",
    ("share", "share", "metadata", "PUT"): "SetShareMetadata",
    ("share", "share", "metadata", "GET"): "GetShareProperties",
    ("share", "share", "metadata", "HEAD"): "GetShareProperties",
    ("share", "share", "properties", "PUT"): "SetShareProperties",
    ("share", "share", "snapshot", "PUT"): "SnapshotShare",
    ("share", "share", "lease", "PUT"): "LeaseShare",
    ("path", "directory", "", "PUT"): "CreateDirectory",
    ("path", "directory", "", "GET"): "GetDirectoryProperties",
    ("path", "directory", "", "HEAD"): "GetDirectoryProperties",
    ("path", "directory", "", "DELETE"): "DeleteDirectory",
    ("path", "directory", "list", "GET"): "ListFilesAndDirectories",
    ("path", "directory", "metadata", "PUT"): "SetDirectoryMetadata",
    ("path", "directory", "metadata", "GET"): "GetDirectoryProperties",
    ("path", "directory", "metadata", "HEAD"): "GetDirectoryProperties",
    ("path", "directory", "properties", "PUT"): "SetDirectoryProperties",
    ("path", "directory", "rename", "PUT"): "RenameDirectory",
    ("path", "", "", "PUT"): "CreateFile",
    ("path", "", "range", "PUT"): "PutRange",
    ("path", "", "", "GET"): "GetFile",
    ("path", "", "", "HEAD"): "GetFileProperties",
    ("path", "", "properties", "PUT"): "SetFileProperties",
    ("path", "", "metadata", "PUT"): "SetFileMetadata",
    ("path", "", "metadata", "GET"): "GetFileMetadata",
    ("path", "", "metadata", "HEAD"): "GetFileMetadata",
    ("path", "", "", "DELETE"): "DeleteFile",
    ("path", "", "rename", "PUT"): "RenameFile",
    ("path", "", "lease", "PUT"): "LeaseFile",
    ("path", "", "rangelist", "GET"): "ListRanges",
}

# Operations told apart by a header on a line of the table: (line's op, header) -> operation.
_BY_HEADER: dict[tuple[str, str], str] = {
    ("CreateFile", "x-ms-copy-source"): "CopyFile",
    ("PutRange", "x-ms-copy-source"): "PutRangeFromURL",
}

_HEADER_LINES = frozenset(line_op for line_op, _ in _BY_HEADER)
_VARIANTS_NOT_EMULATED = frozenset({"PutRangeFromURL"})

OPERATIONS: tuple[str, ...] = tuple(dict.fromkeys([*_TABLE.values(), "CopyFile"]))

# File service operations the emulator does not implement, by the same key as _TABLE (REST
# reference "FileREST API" operation names), so a 501 names what the client asked for.
NOT_EMULATED: dict[tuple[str, str, str, str], str] = {
    ("service", "", "userdelegationkey", "POST"): "GetUserDelegationKey",
    ("share", "share", "acl", "GET"): "GetShareACL",
    ("share", "share", "acl", "HEAD"): "GetShareACL",
    ("share", "share", "acl", "PUT"): "SetShareACL",
    ("share", "share", "stats", "GET"): "GetShareStats",
    ("share", "share", "filepermission", "PUT"): "CreatePermission",
    ("share", "share", "filepermission", "GET"): "GetPermission",
    ("share", "share", "undelete", "PUT"): "RestoreShare",
    ("path", "directory", "listhandles", "GET"): "ListHandles",
    ("path", "directory", "forceclosehandles", "PUT"): "ForceCloseHandles",
    ("path", "", "listhandles", "GET"): "ListHandles",
    ("path", "", "forceclosehandles", "PUT"): "ForceCloseHandles",
    ("path", "", "copy", "PUT"): "AbortCopyFile",
    ("path", "", "hardlink", "PUT"): "CreateHardLink",
    ("path", "", "symboliclink", "PUT"): "CreateSymbolicLink",
    ("path", "", "symboliclink", "GET"): "GetSymbolicLink",
}


def resolve(
    method: str, segments: list[str], query: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
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
    key = (level, restype, comp, method)
    op = _TABLE.get(key)
    if op in _HEADER_LINES and headers:
        for (line_op, header), variant in _BY_HEADER.items():
            if line_op == op and header in headers:
                op = variant
    if op is None or op in _VARIANTS_NOT_EMULATED:
        path = "/" + "/".join(segments) + _query_words(restype, comp)
        name = op or NOT_EMULATED.get(key) or f"{method} {path}"
        raise NotEmulated(name, method, path)
    return op, params


def _query_words(restype: str, comp: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in (("restype", restype), ("comp", comp)) if v)
    return f"?{query}" if query else ""
