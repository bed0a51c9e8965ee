"""plan -> apply -> verify for a fleet: desired state vs. what Azure holds, item by item.

Reading the world and changing it are separate steps. `plan_tenant` only reads. `apply_tenant`
plans; when nothing differs it stops there (no lock, no write); otherwise it takes the tenant's
lock, plans again under the lock, executes, verifies by reading back, and records the manifest.
Tenants run concurrently and independently: one failing tenant never stops the others.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from provision.msticpy_contract.secret_names import SecretPush
from provision.render import NBUSER_SETTINGS, STARTUP_SCRIPT, RenderedFile, TenantRender
from provision.secrets import SecretValue
from provision.share import (
    TEMP_MARK,
    USERS,
    LockHeld,
    WorkspaceShare,
    md5_hex,
)
from provision.workspace import (
    CODE_SHARE,
    TenantError,
    WorkspaceInfo,
    discover,
    explain_azure_error,
)

log = logging.getLogger(__name__)

MANAGED_BY = "msticpy-provision"
SECRET_CONTENT_TYPE = "text/plain; msticpy-provision"  # noqa: S105 (a MIME type, not a secret)
CONTENT_TYPES = {
    "msticpyconfig.yaml": "application/x-yaml",
    "config.json": "application/json",
    NBUSER_SETTINGS: "text/x-python",
    STARTUP_SCRIPT: "text/x-shellscript",
}
# Requests of one tenant in flight at once (the fleet-wide bound is Clients.max_concurrency).
# 16 lets a tenant of up to 5 users (15 files) upload every file in one round of round trips.
PER_TENANT_CONCURRENCY = 16
_PROPERTY_ONLY = {"disabled", "tags or content type differ"}


@dataclass
class Item:
    kind: str  # secret | file | compute | cleanup
    target: str  # vault/name, Users/alias/file, compute name
    action: str  # create | update | noop | delete | report
    detail: str = ""
    ok: bool = True

    @property
    def is_change(self) -> bool:
        return self.action in {"create", "update", "delete"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass
class TenantResult:
    tenant: str
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    applied: int = 0
    verified: bool | None = None
    resources: dict[str, str] = field(default_factory=dict)  # where things live, for reports

    @property
    def changes(self) -> list[Item]:
        return [i for i in self.items if i.is_change]

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0, "noop": 0}
        for i in self.items:
            if i.action in out:
                out[i.action] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "resources": self.resources,
            "ok": self.error is None,
            "error": self.error,
            "counts": self.counts(),
            "applied": self.applied,
            "verified": self.verified,
            "notes": self.notes,
            "items": [i.as_dict() for i in self.items],
        }


@dataclass
class _Desired:
    render: TenantRender
    values: dict[str, SecretValue]  # source reference -> value

    @cached_property
    def files(self) -> dict[str, RenderedFile]:
        """Share path -> file, for every user (built once: looked up per file in loops)."""
        return {
            f"{USERS}/{alias}/{name}": f
            for alias, files in self.render.user_files.items()
            for name, f in files.items()
        }


@dataclass
class _State:
    """What the plan read: enough to execute and to skip re-reading."""

    ws: WorkspaceInfo
    share: WorkspaceShare
    manifest: dict[str, dict[str, str]]
    secret_items: dict[tuple[str, str], Item]
    file_items: dict[str, Item]
    remote_etags: dict[str, str | None]
    temp_files: list[str]
    missing_folders: set[str]


class Engine:
    """Runs plan / apply / verify over many tenants with shared clients."""

    def __init__(
        self,
        clients: Any,
        progress: Callable[[str, str], None] | None = None,
        lock_timeout: float = 0.0,
    ) -> None:
        self.clients = clients
        self.progress = progress or (lambda tenant, step: None)
        self.lock_timeout = lock_timeout
        self.pool = ThreadPoolExecutor(
            max_workers=max(4, clients.max_concurrency * 2), thread_name_prefix="item"
        )
        self.holder = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
        run_id = os.environ.get("GITHUB_RUN_ID")
        if run_id:
            self.holder += f" (GitHub run {run_id})"

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # -- fleet -----------------------------------------------------------------------------

    def run(
        self, mode: str, renders: list[TenantRender], values: dict[str, SecretValue]
    ) -> list[TenantResult]:
        """mode: plan | apply | verify. Tenants run concurrently; results keep input order."""
        step = {"plan": self.plan_tenant, "apply": self.apply_tenant, "verify": self.verify_tenant}[
            mode
        ]
        workers = max(1, min(len(renders), self.clients.max_concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant") as tenants:
            futures = [tenants.submit(self._guard, step, r, values) for r in renders]
            return [f.result() for f in futures]

    def _guard(
        self,
        step: Callable[[_Desired], TenantResult],
        r: TenantRender,
        values: dict[str, SecretValue],
    ) -> TenantResult:
        desired = _Desired(r, {p.source: values[p.source] for p in r.pushes})
        name = r.tenant.name
        try:
            result = step(desired)
        except TenantError as exc:
            result = TenantResult(name, error=str(exc))
        except LockHeld as exc:
            result = TenantResult(name, error=f"not applied: {exc}")
        except Exception as exc:  # a tenant's failure must not stop the fleet
            log.debug("tenant %s failed", name, exc_info=True)
            result = TenantResult(
                name,
                error=explain_azure_error(
                    exc, r.tenant, f"tenant {name}", "check the identity's roles"
                ),
            )
        self.progress(name, "failed: " + result.error if result.error else "done")
        return result

    def _map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Run `fn` over items on the shared pool, at most PER_TENANT_CONCURRENCY at a time.

        A sliding window, not chunks: the next item starts as soon as any one finishes, so one
        slow item does not hold back a whole chunk. The first failure seen is raised.
        """
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        out: list[Any] = [None] * len(items)
        queue = iter(enumerate(items))
        running: dict[Future[Any], int] = {}

        def start_next() -> None:
            nxt = next(queue, None)
            if nxt is not None:
                running[self.pool.submit(fn, nxt[1])] = nxt[0]

        for _ in range(PER_TENANT_CONCURRENCY):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                out[running.pop(f)] = f.result()
                start_next()
        return out

    # -- plan ------------------------------------------------------------------------------

    def plan_tenant(self, d: _Desired) -> TenantResult:
        return self._read(d, verify=False)[1]

    def _read(
        self,
        d: _Desired,
        verify: bool,
        ws: WorkspaceInfo | None = None,
        share: WorkspaceShare | None = None,
    ) -> tuple[_State, TenantResult]:
        t = d.render.tenant
        if ws is None:
            self.progress(t.name, "discovering workspace")
            ws = discover(self.clients, t, self.pool)
        result = TenantResult(t.name)
        result.resources = {
            "key_vault": t.key_vault,
            "storage_account": ws.storage_account,
            "file_share": CODE_SHARE,
        }
        if ws.key_vault and ws.key_vault.lower() != t.key_vault.lower() and d.render.pushes:
            result.notes.append(
                f"secrets go to {t.key_vault}, not the workspace's own vault "
                f"{ws.key_vault} (as the inventory says)"
            )
        if share is None:
            share = WorkspaceShare(
                self.clients.share(t.cloud, ws.storage_account, CODE_SHARE, ws.storage_key)
            )
        self.progress(t.name, "reading secrets and user folders")
        secret_job = self.pool.submit(self._read_secrets, d)
        files_state = self._read_files(d, share, verify)
        secret_items = secret_job.result()
        manifest, file_items, etags, temps, missing = files_state
        result.items.extend(secret_items.values())
        result.items.extend(file_items.values())
        result.items.extend(
            Item("cleanup", p, "delete", "temporary file left by an interrupted run") for p in temps
        )
        result.items.extend(self._compute_items(d, ws))
        return _State(ws, share, manifest, secret_items, file_items, etags, temps, missing), result

    def _read_secrets(self, d: _Desired) -> dict[tuple[str, str], Item]:
        pushes = d.render.pushes
        # The first request to a vault answers the Key Vault auth challenge (401, then retry
        # with a token); the client caches it. Send one request per vault alone so that the
        # others, sent concurrently, do not each pay that extra round trip.
        first = list({p.vault: p for p in pushes}.values())
        warm = {id(p): self._secret_item(d, p) for p in first}
        rest = [p for p in pushes if id(p) not in warm]
        cold = dict(
            zip(map(id, rest), self._map(lambda p: self._secret_item(d, p), rest), strict=True)
        )
        return {(p.vault, p.name): warm.get(id(p)) or cold[id(p)] for p in pushes}

    def _secret_item(self, d: _Desired, p: SecretPush) -> Item:
        from azure.core.exceptions import ResourceNotFoundError

        client = self.clients.secrets(d.render.tenant.cloud, p.vault)
        target = f"{p.vault}/{p.name}"
        try:
            current = client.get_secret(p.name)
        except ResourceNotFoundError:
            return Item("secret", target, "create", "not in the vault")
        except Exception as exc:
            raise TenantError(
                explain_azure_error(
                    exc,
                    d.render.tenant,
                    f"secret {target}",
                    "grant Key Vault Secrets Officer (or Get/Set secret access) on the vault",
                )
            ) from None
        want = d.values[p.source].reveal()
        if current.value != want:
            return Item("secret", target, "update", "value differs")
        if current.properties.enabled is False:
            return Item("secret", target, "update", "disabled")
        if (current.properties.tags or {}) != _secret_tags(d, p) or (
            current.properties.content_type != SECRET_CONTENT_TYPE
        ):
            return Item("secret", target, "update", "tags or content type differ")
        return Item("secret", target, "noop")

    def _read_files(
        self, d: _Desired, share: WorkspaceShare, verify: bool
    ) -> tuple[
        dict[str, dict[str, str]], dict[str, Item], dict[str, str | None], list[str], set[str]
    ]:
        manifest = {} if verify else share.read_manifest()
        folders = sorted({path.rpartition("/")[0] for path in d.files})
        listings = dict(zip(folders, self._map(share.list_folder, folders), strict=True))
        items: dict[str, Item] = {}
        etags: dict[str, str | None] = {}
        temps: list[str] = []
        missing = {f for f, listing in listings.items() if listing is None}
        to_fetch: list[str] = []
        for folder, listing in listings.items():
            for name in listing or {}:
                if name.startswith(TEMP_MARK):
                    temps.append(f"{folder}/{name}")
        for path, f in d.files.items():
            folder, _, name = path.rpartition("/")
            remote = (listings[folder] or {}).get(name)
            if remote is None:
                items[path] = Item("file", path, "create", "not in the share")
                continue
            etags[path] = remote.etag
            known = manifest.get(path)
            if known and known.get("etag") == remote.etag and remote.size == len(f.content):
                # Unchanged since we wrote it: the manifest's MD5 is the content's MD5.
                same = known.get("md5") == md5_hex(f.content)
                items[path] = Item(
                    "file", path, "noop" if same else "update", "" if same else "content differs"
                )
            else:
                to_fetch.append(path)
        fetched = self._map(share.download, to_fetch)
        for path, got in zip(to_fetch, fetched, strict=True):
            want = d.files[path].content
            if got is None:
                items[path] = Item("file", path, "create", "not in the share")
            else:
                etags[path] = got[1]
                same = got[0] == want
                items[path] = Item(
                    "file", path, "noop" if same else "update", "" if same else "content differs"
                )
        ordered = {p: items[p] for p in d.files}
        return manifest, ordered, etags, temps, missing

    def _compute_items(self, d: _Desired, ws: WorkspaceInfo) -> list[Item]:
        out = []
        for user in d.render.tenant.user_list:
            ours = f"{USERS}/{user.alias}/{STARTUP_SCRIPT}"
            c = ws.computes.get(user.compute_name)
            if c is None:
                detail = f"no compute instance {user.compute_name!r} (invoke create-compute)"
            elif c.startup_script == ours:
                detail = f"startup script is ours ({c.state or 'unknown state'})"
            elif c.startup_script or c.raw_script_source:
                detail = f"startup script is not ours: {c.startup_script or c.raw_script_source}"
            else:
                detail = "no startup script: kernels are patched only when you run patch-kernel"
            out.append(Item("compute", user.compute_name, "report", detail))
        return out

    # -- apply -----------------------------------------------------------------------------

    def apply_tenant(self, d: _Desired) -> TenantResult:
        t = d.render.tenant
        state, first = self._read(d, verify=False)
        if not first.changes:
            first.verified = True
            return first
        self.progress(t.name, "waiting for the tenant lock")
        with state.share.locked(self.holder, self.lock_timeout):
            # plan again, locked (same share object: it knows the folders the lock created)
            state, result = self._read(d, verify=False, ws=state.ws, share=state.share)
            if result.changes:
                self.progress(t.name, f"applying {len(result.changes)} changes")
                self._execute(d, state, result)
                self.progress(t.name, "verifying")
                result.verified = self._verify_changes(d, state, result)
                if not result.verified:
                    result.error = "read-back after apply does not match: " + "; ".join(
                        f"{i.target} ({i.detail})" for i in result.items if not i.ok
                    )
                self._record_manifest(d, state)
            else:
                result.verified = True
        return result

    def _execute(self, d: _Desired, state: _State, result: TenantResult) -> None:
        secret_changes = [(k, i) for k, i in state.secret_items.items() if i.is_change]
        pushes = {(p.vault, p.name): p for p in d.render.pushes}
        file_changes = [p for p, i in state.file_items.items() if i.is_change]
        for folder in sorted({p.rpartition("/")[0] for p in file_changes} & state.missing_folders):
            state.share.ensure_folder(folder)

        def do_secret(entry: tuple[tuple[str, str], Item]) -> None:
            key, item = entry
            self._write_secret(d, pushes[key], value_differs=item.detail not in _PROPERTY_ONLY)

        def do_file(path: str) -> None:
            name = path.rpartition("/")[2]
            state.share.upload_atomic(
                path, d.files[path].content, CONTENT_TYPES.get(name, "application/octet-stream")
            )

        # Secrets, files and leftover temporary files are independent: one batch, not three
        # rounds of round trips.
        jobs: list[Callable[[], None]] = [
            *(functools.partial(do_secret, e) for e in secret_changes),
            *(functools.partial(do_file, p) for p in file_changes),
            *(functools.partial(state.share.delete_file, p) for p in state.temp_files),
        ]
        self._map(lambda job: job(), jobs)
        result.applied = len(secret_changes) + len(file_changes) + len(state.temp_files)

    def _write_secret(self, d: _Desired, p: SecretPush, value_differs: bool) -> None:
        from azure.core.exceptions import HttpResponseError

        client = self.clients.secrets(d.render.tenant.cloud, p.vault)
        value = d.values[p.source].reveal()
        tags = _secret_tags(d, p)
        if not value_differs:
            client.update_secret_properties(
                p.name, content_type=SECRET_CONTENT_TYPE, tags=tags, enabled=True
            )
            return
        try:
            client.set_secret(p.name, value, content_type=SECRET_CONTENT_TYPE, tags=tags)
        except HttpResponseError as exc:
            if not _is_deleted_but_recoverable(exc):
                raise
            # Soft-deleted under this name: recover it (keeps its history), then update it.
            client.begin_recover_deleted_secret(p.name).result()
            recovered = client.get_secret(p.name)
            if recovered.value != value:
                client.set_secret(p.name, value, content_type=SECRET_CONTENT_TYPE, tags=tags)
            else:
                client.update_secret_properties(
                    p.name, content_type=SECRET_CONTENT_TYPE, tags=tags, enabled=True
                )

    def _verify_changes(self, d: _Desired, state: _State, result: TenantResult) -> bool:
        """Read back what was written; record ETags for the manifest."""
        t = d.render.tenant
        pushes = {(p.vault, p.name): p for p in d.render.pushes}
        ok = True

        def check_secret(key: tuple[str, str]) -> bool:
            p = pushes[key]
            got = self.clients.secrets(t.cloud, p.vault).get_secret(p.name)
            return bool(got.value == d.values[p.source].reveal())

        secret_keys = [k for k, i in state.secret_items.items() if i.is_change]
        paths = [p for p, i in state.file_items.items() if i.is_change]
        # Secrets and files are read back in one batch.
        jobs: list[Callable[[], Any]] = [
            *(functools.partial(check_secret, k) for k in secret_keys),
            *(functools.partial(state.share.download, p) for p in paths),
        ]
        answers = self._map(lambda job: job(), jobs)
        for key, good in zip(secret_keys, answers[: len(secret_keys)], strict=True):
            if not good:
                state.secret_items[key].ok = False
                state.secret_items[key].detail = "value read back differs"
                ok = False
        for path, got in zip(paths, answers[len(secret_keys) :], strict=True):
            if got is None or got[0] != d.files[path].content:
                state.file_items[path].ok = False
                state.file_items[path].detail = "content read back differs"
                ok = False
            else:
                state.remote_etags[path] = got[1]
        return ok

    def _record_manifest(self, d: _Desired, state: _State) -> None:
        manifest = dict(state.manifest)
        for path, f in d.files.items():
            item = state.file_items.get(path)
            etag = state.remote_etags.get(path)
            if item is not None and item.ok and etag:
                manifest[path] = {"etag": etag, "md5": md5_hex(f.content)}
        if manifest != state.manifest:
            state.share.write_manifest(manifest)

    # -- verify ----------------------------------------------------------------------------

    def verify_tenant(self, d: _Desired) -> TenantResult:
        """Read back everything (no manifest shortcut); any difference is a failure."""
        _, result = self._read(d, verify=True)
        result.verified = not result.changes
        if result.changes:
            result.error = f"{len(result.changes)} items differ from the inventory"
        return result


def _secret_tags(d: _Desired, p: SecretPush) -> dict[str, str]:
    return {
        "managed-by": MANAGED_BY,
        "tenant": d.render.tenant.name,
        "source": p.source[:256],
        "setting": p.setting_path[:256],
    }


def _is_deleted_but_recoverable(exc: Exception) -> bool:
    error = getattr(exc, "error", None)
    inner = getattr(error, "innererror", None) or {}
    code = inner.get("code") if isinstance(inner, dict) else getattr(inner, "code", None)
    text = f"{getattr(error, 'code', '')} {code} {getattr(exc, 'message', '')}"
    return getattr(exc, "status_code", None) == 409 and "ObjectIsDeletedButRecoverable" in text
