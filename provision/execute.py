"""Carry out one tenant's planned changes, read them back, and record the manifest.

Runs only under the tenant's lock (provision.engine takes it), on the state the locked plan read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from provision.backups import back_up
from provision.fanout import Fanout
from provision.observe import ObservedState
from provision.orphans import orphan_jobs
from provision.plan import DesiredState
from provision.render import NBUSER_SETTINGS, STARTUP_SCRIPT
from provision.sentinel_check import sentinel_record
from provision.share import Manifest, md5_hex
from provision.vault import read_back_matches, write_secret

if TYPE_CHECKING:
    from provision.azure import Clients

CONTENT_TYPES = {
    "msticpyconfig.yaml": "application/x-yaml",
    "config.json": "application/json",
    NBUSER_SETTINGS: "text/x-python",
    STARTUP_SCRIPT: "text/x-shellscript",
}


def execute(clients: Clients, fan: Fanout, d: DesiredState, state: ObservedState) -> int:
    """Write every changed secret and file (keeping a copy of a hand-edited one first), delete
    leftover temporary files and, when pruning, orphans; return the count."""
    pushes = {(p.vault, p.name): p for p in d.render.pushes}
    secret_changes = [(k, c) for k, c in state.secrets.items() if c.is_change]
    file_changes = [p for p, c in state.files.items.items() if c.is_change]
    for folder in sorted(
        {p.rpartition("/")[0] for p in file_changes} & state.files.missing_folders
    ):
        state.share.ensure_folder(folder)

    def do_secret(key: tuple[str, str], reason: str) -> None:
        p = pushes[key]
        write_secret(clients.secrets(d.render.tenant, p.vault), d, p, reason)

    def do_file(path: str) -> None:
        name = path.rpartition("/")[2]
        if path in state.files.backups:
            back_up(state.share, path, state.files.backups[path])
        etag = state.share.upload_atomic(
            path, d.files[path].content, CONTENT_TYPES.get(name, "application/octet-stream")
        )
        if etag:
            state.files.confirmed[path] = etag

    # Secrets, files and leftover temporary files are independent: one batch, not three
    # rounds of round trips.
    jobs: list[Callable[[], None]] = [
        *(functools.partial(do_secret, k, c.detail) for k, c in secret_changes),
        *(functools.partial(do_file, p) for p in file_changes),
        *(functools.partial(state.share.delete_file, p) for p in state.files.temp_files),
    ]
    if state.orphans is not None and state.orphans.pruning:
        jobs += orphan_jobs(clients, d.render.tenant, state.share, state.orphans)
    fan.run_all(jobs)
    return len(jobs)


def read_back(
    clients: Clients, fan: Fanout, d: DesiredState, state: ObservedState
) -> dict[str, str]:
    """Read back every written secret and file; return target -> mismatch (empty when all match).

    A file whose upload the service confirmed (its Content-MD5 and the renamed file's ETag, see
    WorkspaceShare.upload_atomic) is not downloaded again; `verify` still reads every file. The
    ETags are recorded in `state.files.remote_etags` for the manifest.
    """
    pushes = {(p.vault, p.name): p for p in d.render.pushes}
    secret_keys = [k for k, c in state.secrets.items() if c.is_change]
    changed = [p for p, c in state.files.items.items() if c.is_change]
    state.files.remote_etags.update(
        {p: state.files.confirmed[p] for p in changed if p in state.files.confirmed}
    )
    paths = [p for p in changed if p not in state.files.confirmed]

    def check_secret(key: tuple[str, str]) -> bool:
        p = pushes[key]
        return read_back_matches(clients.secrets(d.render.tenant, p.vault), d, p)

    # Secrets and files are read back in one batch.
    jobs: list[Callable[[], object]] = [
        *(functools.partial(check_secret, k) for k in secret_keys),
        *(functools.partial(state.share.download, p) for p in paths),
    ]
    answers = fan.run_all(jobs)
    mismatches: dict[str, str] = {}
    for key, good in zip(secret_keys, answers[: len(secret_keys)], strict=True):
        if not good:
            mismatches[state.secrets[key].target] = "value read back differs"
    for path, got in zip(paths, answers[len(secret_keys) :], strict=True):
        if not isinstance(got, tuple) or got[0] != d.files[path].content:
            mismatches[path] = "content read back differs"
        else:
            state.files.remote_etags[path] = got[1]
    return mismatches


def record_manifest(d: DesiredState, state: ObservedState, mismatches: dict[str, str]) -> None:
    """Remember the ETag and MD5 of every file as written, so the next plan can skip downloads;
    and what this apply checked (the tenant's tagged secrets, its Sentinel workspaces), so the
    next apply need not read it again (see provision.orphans, provision.sentinel_check)."""
    files = dict(state.files.manifest)
    for path in state.orphans.forget if state.orphans is not None else ():
        files.pop(path, None)  # pruned, or already gone
    for path, f in d.files.items():
        etag = state.files.remote_etags.get(path)
        if path in state.files.items and path not in mismatches and etag:
            files[path] = {"etag": etag, "md5": md5_hex(f.content)}
    manifest = Manifest(
        files=files,
        secrets=state.orphans.tagged_after_apply(d) if state.orphans is not None else None,
        sentinel=sentinel_record(d.render.tenant),
    )
    if manifest != state.manifest:
        state.share.write_manifest(manifest)
