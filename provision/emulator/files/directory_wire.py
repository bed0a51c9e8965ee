"""Azure Files wire layer, the namespace: directories (create, properties, metadata, delete,
list) and renames of files and directories, which move entries between directories.

One method per operation, mixed into `responses.FilesWire` like `share_wire.ShareLevelOps`;
the rules they apply (parents must exist, a directory must be empty to be deleted, rename is
atomic) are the backend's, in `namespace`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse
from xml.sax.saxutils import escape, quoteattr

from provision.emulator.files.exceptions import FilesError, MissingRequiredHeader
from provision.emulator.files.models import PERMISSION_KEY, DirNode, FileNode, FilesBackend
from provision.emulator.files.share_wire import snapshot_of
from provision.emulator.files.wireformat import (
    bool_header,
    marker_decode,
    marker_encode,
    max_results,
    meta_headers,
    path_parts,
    smb_headers,
    xml_response,
)
from provision.emulator.wire import WireRequest, WireResponse, http_date, iso_utc

__all__ = ["DirectoryOps", "parent_directory"]


def parent_directory(files: FilesBackend, req: WireRequest, p: dict[str, str]) -> DirNode | None:
    """The directory that holds the file or directory a request names (None for the root)."""
    parts = path_parts(p)
    if not parts:
        return None
    return files.directory(req.scope, p["share"], parts[:-1], snapshot_of(req))


class DirectoryOps:
    """The directory and rename operations of `FilesWire` (one method per operation)."""

    files: FilesBackend

    # --- directories ----------------------------------------------------------------------------
    def op_CreateDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.create_directory(
            req.scope, p["share"], path_parts(p), metadata=req.metadata()
        )
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(201, headers)

    def op_GetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], path_parts(p), snapshot_of(req))
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers.update(meta_headers(node.metadata))
        headers["x-ms-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_DeleteDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        self.files.delete_directory(req.scope, p["share"], path_parts(p))
        return WireResponse(202)

    def op_SetDirectoryMetadata(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.set_directory_metadata(
            req.scope, p["share"], path_parts(p), req.metadata()
        )
        return WireResponse(200, {"ETag": node.etag, "x-ms-request-server-encrypted": "true"})

    def op_SetDirectoryProperties(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        node = self.files.directory(req.scope, p["share"], path_parts(p), snapshot_of(req))
        return WireResponse(200, smb_headers(node, parent_directory(self.files, req, p)))

    def op_ListFilesAndDirectories(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        parts = path_parts(p)
        directory = self.files.directory(req.scope, p["share"], parts, snapshot_of(req))
        prefix = req.query.get("prefix", "")
        marker = marker_decode(req.query["marker"]) if req.query.get("marker") else ""
        size = max_results(req)
        include = {i.strip().lower() for i in req.query.get("include", "").split(",") if i}
        extended = req.header("x-ms-file-extended-info").lower() == "true" or bool(include)
        entries = self.files.list_directory(
            req.scope, p["share"], parts, prefix=prefix, snapshot=snapshot_of(req)
        )
        if marker:
            entries = [e for e in entries if e.name.lower() >= marker]
        page, rest = entries[:size], entries[size:]
        out = []
        for entry in page:
            tag = "Directory" if isinstance(entry, DirNode) else "File"
            props = ""
            if isinstance(entry, FileNode):
                props += f"<Content-Length>{entry.size}</Content-Length>"
            if "timestamps" in include:
                props += (
                    f"<CreationTime>{iso_utc(entry.created)}</CreationTime>"
                    f"<LastAccessTime>{iso_utc(entry.last_modified)}</LastAccessTime>"
                    f"<LastWriteTime>{iso_utc(entry.last_modified)}</LastWriteTime>"
                    f"<ChangeTime>{iso_utc(entry.changed)}</ChangeTime>"
                    f"<Last-Modified>{http_date(entry.last_modified)}</Last-Modified>"
                )
            if "etag" in include:
                props += f"<Etag>{entry.etag}</Etag>"
            item = f"<{tag}>"
            if extended:
                item += f"<FileId>{entry.file_id}</FileId>"
            item += f"<Name>{escape(entry.name)}</Name><Properties>{props}</Properties>"
            if "attributes" in include:
                item += f"<Attributes>{entry.attributes}</Attributes>"
            if "permissionkey" in include:
                item += f"<PermissionKey>{PERMISSION_KEY}</PermissionKey>"
            out.append(item + f"</{tag}>")
        endpoint = req.base_url + req.prefix + "/"
        body = (
            f"<EnumerationResults ServiceEndpoint={quoteattr(endpoint)} "
            f"ShareName={quoteattr(p['share'])} "
            + (f"ShareSnapshot={quoteattr(snapshot_of(req))} " if snapshot_of(req) else "")
            + f"DirectoryPath={quoteattr('/'.join(parts))}>"
            f"<Marker>{escape(req.query.get('marker', ''))}</Marker>"
            f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{size}</MaxResults>"
            + (f"<DirectoryId>{directory.file_id}</DirectoryId>" if extended else "")
            + f"<Entries>{''.join(out)}</Entries>"
            f"<NextMarker>{marker_encode(rest[0].name.lower()) if rest else ''}</NextMarker>"
            "</EnumerationResults>"
        )
        return xml_response(200, body)

    # --- renames (files and directories) ----------------------------------------------------------
    def _rename_source(self, req: WireRequest, share: str) -> list[str]:
        source = req.header("x-ms-file-rename-source")
        if not source:
            raise MissingRequiredHeader(detail={"HeaderName": "x-ms-file-rename-source"})
        if source.lower().startswith(("https://", "http://")):
            segments = [unquote(s) for s in urlparse(source).path.split("/") if s]
            if len(segments) < 2 or segments[0] != req.scope or segments[1].lower() != share:
                raise FilesError(
                    "The rename source must be in the same share.",
                    status=400,
                    code="InvalidHeaderValue",
                )
            return segments[2:]
        return [unquote(s) for s in source.split("?")[0].split("/") if s]

    def _rename(self, req: WireRequest, p: dict[str, str], *, directory: bool) -> WireResponse:
        node = self.files.rename(
            req.scope,
            p["share"],
            self._rename_source(req, p["share"].lower()),
            path_parts(p),
            replace=bool_header(req, "x-ms-file-rename-replace-if-exists"),
            directory=directory,
            source_lease_id=req.header("x-ms-source-lease-id") or None,
            target_lease_id=req.header("x-ms-destination-lease-id") or None,
        )
        if isinstance(node, FileNode) and req.header("x-ms-content-type"):
            node.settings.content_type = req.header("x-ms-content-type")
        if req.metadata():
            node.metadata = req.metadata()
        headers = smb_headers(node, parent_directory(self.files, req, p))
        headers["x-ms-request-server-encrypted"] = "true"
        return WireResponse(200, headers)

    def op_RenameFile(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return self._rename(req, p, directory=False)

    def op_RenameDirectory(self, req: WireRequest, p: dict[str, str]) -> WireResponse:
        return self._rename(req, p, directory=True)
