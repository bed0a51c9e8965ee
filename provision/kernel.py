"""Point the Jupyter kernels of an Azure ML compute instance at the user's msticpyconfig.yaml.

msticpy looks for its settings through the ``MSTICPYCONFIG`` environment variable first. The
default ("kernel") mode puts that variable into the ``"env"`` map of each kernelspec's
kernel.json, which jupyter_client applies to every kernel process it starts. The legacy
("nbuser") mode writes a marked block into ``Users/<alias>/nbuser_settings.py`` instead; only
the older Azure-Sentinel-Notebooks ``check_versions`` ran that file, current msticpy does not.

This module runs in two places: behind the ``patch-kernel`` invoke task, and stand-alone inside
the compute startup script (``python - --config ... <<'HEREDOC'``) with nothing but the
compute's own Python. So it imports only the standard library at import time (jupyter_client is
imported where the kernelspecs are looked up), keeps to syntax Python 3.8 understands, and
imports nothing from the rest of the ``provision`` package. That is also why it keeps its own
atomic write (`atomic_write`, which also keeps the file's owner) instead of
``provision.fsutil.write_atomic``, and why it is longer than the other modules: the startup
script embeds this one file, so it must be self-contained. ``provision.render`` reuses its
`assigned_config` to check a rendered nbuser_settings.py.

Every write is atomic (temporary file in the same folder, fsync, ``os.replace``) and keeps the
file's mode and owner, so a crash or power cut at any moment leaves either the old or the new
file. Before the first change a kernel.json is copied to ``kernel.json.msticpy-provision.bak``
so that ``--revert`` can restore it exactly.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

ENV_VAR = "MSTICPYCONFIG"
KERNEL_FILE = "kernel.json"
BACKUP_SUFFIX = ".msticpy-provision.bak"
TEMP_TAG = ".msticpy-provision-"
NBUSER_FILE = "nbuser_settings.py"
MODES = ("kernel", "nbuser")
LOCK_TIMEOUT_S = 30.0

NBUSER_NOTE = (
    "note: current msticpy no longer runs nbuser_settings.py by itself (only the older "
    "Azure-Sentinel-Notebooks check_versions did); kernel mode (--mode kernel, the default) "
    "is preferred"
)

# nbuser_settings.py block. The flags in the begin line record what --revert must undo
# besides removing the block: a file we created, or a newline we had to add before the block.
BLOCK_BEGIN = "# >>> msticpy-provision: begin managed block{flags} >>>\n"
BLOCK_END = "# <<< msticpy-provision: end of managed block <<<"
FLAG_CREATED = " (created this file)"
FLAG_NEWLINE = " (added the newline above)"
_BLOCK_RE = re.compile(
    r"^# >>> msticpy-provision: begin managed block(?P<flags>[^\n>]*) >>>\n"
    r".*?^" + re.escape(BLOCK_END) + r"(?:\n|\Z)",
    re.MULTILINE | re.DOTALL,
)
_BLOCK_BEGIN_RE = re.compile(r"^# >>> msticpy-provision: begin managed block", re.MULTILINE)


class PatchError(Exception):
    """A problem that stops the whole run (bad flags, no jupyter_client, no kernels)."""


class KernelFileError(Exception):
    """A problem with one file; the others are still processed."""


# --------------------------------------------------------------------------------------------
# output


class Output:
    """Result lines on stdout, warnings and errors on stderr, all optionally in a log file."""

    def __init__(self, log_file: str | None = None) -> None:
        self.errors = 0
        self.warnings = 0
        self._log: IO[str] | None = None
        if log_file:
            try:
                self._log = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
            except OSError as exc:
                self.warn(f"cannot write the log file {log_file}: {exc.strerror or exc}")

    def info(self, line: str) -> None:
        print(line, flush=True)
        self._write_log("INFO", line)

    def warn(self, line: str) -> None:
        self.warnings += 1
        print(f"warning: {line}", file=sys.stderr, flush=True)
        self._write_log("WARNING", line)

    def error(self, line: str) -> None:
        self.errors += 1
        print(f"error: {line}", file=sys.stderr, flush=True)
        self._write_log("ERROR", line)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _write_log(self, level: str, line: str) -> None:
        if self._log is None:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self._log.write(f"{stamp} {level} {line}\n")
            self._log.flush()
        except OSError:
            self._log = None


# --------------------------------------------------------------------------------------------
# safe file writing


@dataclass(frozen=True)
class FileOwner:
    """Mode and owner a rewritten file must keep."""

    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: str) -> FileOwner:
        st = os.stat(path)
        return cls(mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _fsync_folder(folder: str) -> None:
    """Make a rename or unlink in ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, owner: FileOwner) -> None:
    """Replace ``path`` with ``data`` so that readers only ever see the old or the new bytes.

    The temporary file lives in the same folder (``os.replace`` is only atomic within one file
    system), gets the old file's mode (and owner, when running as root) before it is renamed,
    and is removed again if anything fails before the rename.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + TEMP_TAG, suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.chmod(tmp, owner.mode)
            if _running_as_root():
                os.chown(tmp, owner.uid, owner.gid)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _remove(path: str) -> None:
    os.unlink(path)
    _fsync_folder(os.path.dirname(path) or ".")


def _remove_stale_temp_files(folder: str, base: str) -> None:
    """Remove temporary files a killed run left behind (only called while holding the lock)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith("." + base) and TEMP_TAG in name and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


@contextlib.contextmanager
def folder_lock(folder: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[bool]:
    """Hold an exclusive flock on ``folder`` so two runs do not interleave read and write.

    Locks the folder itself, not a file in it, so that no lock file is left in kernelspec
    folders. Yields False where locking is not available (Windows, some network file systems);
    the writes stay atomic either way.
    """
    try:
        import fcntl
    except ImportError:
        yield False
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        locked = False
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise KernelFileError(
                        f"{folder}: another msticpy-provision run has held its lock for "
                        f"{timeout:.0f} s; try again later"
                    ) from None
                time.sleep(0.05)
            except OSError:
                break  # the file system does not support flock
        yield locked
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# kernel.json handling


@dataclass(frozen=True)
class JsonStyle:
    """How a kernel.json was laid out, so that a rewrite looks like the original."""

    indent: str | None
    ensure_ascii: bool
    trailing_newline: bool

    @classmethod
    def of(cls, text: str) -> JsonStyle:
        match = re.search(r"[{\[][ \t]*\r?\n([ \t]+)\S", text)
        return cls(
            indent=match.group(1) if match else None,
            ensure_ascii=text.isascii(),
            trailing_newline=text.endswith("\n"),
        )

    def dump(self, obj: dict[str, Any]) -> bytes:
        text = json.dumps(obj, indent=self.indent, ensure_ascii=self.ensure_ascii)
        if self.trailing_newline:
            text += "\n"
        return text.encode("utf-8")


def _canonical(obj: Any) -> str:
    """Compare JSON documents by content and key order, not by layout."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def _parse_json_object(raw: bytes, path: str) -> dict[str, Any]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KernelFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise KernelFileError(
            f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(obj, dict):
        raise KernelFileError(
            f"{path}: the top level is a JSON {type(obj).__name__}, a kernel.json must be an "
            "object (mapping)"
        )
    return obj


def read_json_object(path: str) -> tuple[bytes, dict[str, Any]]:
    """Read a JSON object file; every problem becomes one KernelFileError naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise KernelFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return raw, _parse_json_object(raw, path)


def kernel_env_value(config_path: str) -> str:
    """The kernel.json env value whose expansion is exactly ``config_path``.

    jupyter_client (7+, provisioning/provisioner_base.py ``__apply_env_substitutions``) passes
    every kernel.json env value through ``string.Template.safe_substitute``, so a ``$`` must be
    written as ``$$`` to reach the kernel unchanged.
    """
    return config_path.replace("$", "$$")


def _env_of(obj: dict[str, Any], path: str) -> dict[str, Any] | None:
    if "env" not in obj:
        return None
    env = obj["env"]
    if not isinstance(env, dict):
        raise KernelFileError(
            f'{path}: "env" is a JSON {type(env).__name__}, it must be an object (mapping) '
            "of variable names to strings"
        )
    return env


def with_config(obj: dict[str, Any], value: str, path: str) -> dict[str, Any]:
    """``obj`` with env.MSTICPYCONFIG = value; every other key keeps its value and place."""
    env = _env_of(obj, path)
    new_env = dict(env) if env is not None else {}
    new_env[ENV_VAR] = value
    new = dict(obj)
    new["env"] = new_env
    return new


def _current_value(obj: dict[str, Any]) -> Any:
    env = obj.get("env")
    return env.get(ENV_VAR) if isinstance(env, dict) else None


def is_our_patch(current: dict[str, Any], backup: dict[str, Any]) -> bool:
    """True when ``current`` is exactly what patching ``backup`` gives (nobody changed it since)."""
    value = _current_value(current)
    if not isinstance(value, str):
        return False
    try:
        return _canonical(with_config(backup, value, "")) == _canonical(current)
    except KernelFileError:
        return False


def restore_config(current: dict[str, Any], backup: dict[str, Any]) -> dict[str, Any]:
    """``current`` with MSTICPYCONFIG as it was in ``backup``, keeping everything else.

    Used by --revert when kernel.json was changed by someone else after our patch: only our
    variable goes back (removed, or its old value), and an "env" that did not exist before and
    is now empty goes too.
    """
    env = current.get("env")
    if not isinstance(env, dict):
        return current
    new_env = dict(env)
    old_env = backup.get("env")
    if isinstance(old_env, dict) and ENV_VAR in old_env:
        new_env[ENV_VAR] = old_env[ENV_VAR]
    else:
        new_env.pop(ENV_VAR, None)
    new = dict(current)
    if not new_env and "env" not in backup:
        del new["env"]
    else:
        new["env"] = new_env
    return new


@dataclass(frozen=True)
class KernelSpecRef:
    """One kernelspec found by jupyter_client: its name and its kernel.json.

    ``guarded``: found in a folder given with --kernel-dir (an analyst's own kernels), whose
    owner could replace kernel.json with a link to any file; such a link is not followed.
    """

    name: str
    folder: str
    guarded: bool = False

    @property
    def path(self) -> str:
        return os.path.join(self.folder, KERNEL_FILE)


def _kernel_spec_manager(**kwargs: Any) -> Any:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError as exc:
        raise PatchError(
            f"jupyter_client cannot be imported by {sys.executable} ({exc}); run this with the "
            "Python that runs Jupyter on the compute instance"
        ) from None
    # ensure_native_kernel=False: the "native" python3 spec that ipykernel makes up on the fly
    # has no kernel.json on disk, so there is nothing to patch for it.
    return KernelSpecManager(ensure_native_kernel=False, **kwargs)


def find_kernelspecs(extra_dirs: Sequence[str] = ()) -> tuple[list[KernelSpecRef], list[str]]:
    """Every kernelspec jupyter_client can see (it honours JUPYTER_PATH, JUPYTER_DATA_DIR), and
    every kernelspec in each of ``extra_dirs`` (``kernels`` folders this process would not search:
    another user's ``~/.local/share/jupyter/kernels``, the Jupyter server's own environment).

    Each extra folder is listed on its own, so a spec there is found even when one of the same
    name elsewhere shadows it. Returns the specs sorted by name and folder, and the folders
    that were searched.
    """
    manager = _kernel_spec_manager()
    found: dict[str, str] = manager.find_kernel_specs()
    specs = [KernelSpecRef(name, folder) for name, folder in sorted(found.items())]
    searched = [str(d) for d in manager.kernel_dirs]
    seen = {os.path.realpath(spec.folder) for spec in specs}
    for kernels_dir in extra_dirs:
        searched.append(kernels_dir)
        if not os.path.isdir(kernels_dir):
            continue
        one: dict[str, str] = _kernel_spec_manager(kernel_dirs=[kernels_dir]).find_kernel_specs()
        for name, folder in sorted(one.items()):
            if os.path.realpath(folder) not in seen:
                seen.add(os.path.realpath(folder))
                specs.append(KernelSpecRef(name, folder, guarded=True))
    specs.sort(key=lambda spec: (spec.name, spec.folder))
    return specs, searched


def _check_guarded(spec: KernelSpecRef) -> None:
    """In an analyst's folder, kernel.json must be a regular file right there, not a link."""
    if not spec.guarded:
        return
    inside = os.path.join(os.path.realpath(spec.folder), KERNEL_FILE)
    if os.path.islink(spec.path) or os.path.realpath(spec.path) != inside:
        raise KernelFileError(
            f"{spec.path}: is a symbolic link; in a folder its user can write, links are not "
            "followed (replace it with the file itself)"
        )


def _is_python(obj: dict[str, Any]) -> bool:
    language = obj.get("language")
    return isinstance(language, str) and language.lower().startswith("python")


def _describe(value: Any) -> str:
    return "unset" if value is None else repr(value)


def _describe_env(value: Any) -> str:
    """A kernel.json env value as the kernel will see it ("$$" -> "$")."""
    return _describe(value.replace("$$", "$") if isinstance(value, str) else value)


def _read_backup(path: str) -> tuple[bytes, dict[str, Any]] | None:
    if not os.path.lexists(path):
        return None
    return read_json_object(path)


def patch_kernelspec(
    spec: KernelSpecRef, value: str, out: Output, *, python_only: bool, dry_run: bool
) -> bool:
    """Set env.MSTICPYCONFIG in one kernel.json (backup first); raises KernelFileError.

    Returns False when the kernelspec was skipped (not Python and ``python_only``).
    """
    _check_guarded(spec)
    target = os.path.realpath(spec.path)
    folder = os.path.dirname(target)
    with folder_lock(folder) as locked:
        raw, obj = read_json_object(spec.path)
        if python_only and not _is_python(obj):
            out.info(
                f"{spec.name}: skipped (language {_describe(obj.get('language'))}; "
                "use --kernel NAME or --all to include it)"
            )
            return False
        old = _current_value(obj)
        if old == value:
            out.info(f"{spec.name}: already set ({spec.path})")
            return True
        new_raw = JsonStyle.of(raw.decode("utf-8")).dump(with_config(obj, value, spec.path))
        change = f"{ENV_VAR}: {_describe_env(old)} -> {_describe_env(value)}"
        if dry_run:
            out.info(f"{spec.name}: would patch {spec.path} ({change})")
            return True
        if locked:
            _remove_stale_temp_files(folder, os.path.basename(target))
        owner = FileOwner.of(target)
        backup_path = target + BACKUP_SUFFIX
        try:
            backup = _read_backup(backup_path)
        except KernelFileError as exc:
            out.warn(f"{spec.name}: replacing an unusable backup: {exc}")
            backup = None
        # Keep the backup of the state before our first patch; take a new one only when the
        # current file is not simply our patch of it (e.g. an image update rewrote kernel.json).
        if backup is None or (not is_our_patch(obj, backup[1]) and backup[0] != raw):
            atomic_write(backup_path, raw, owner)
        atomic_write(target, new_raw, owner)
    out.info(f"{spec.name}: patched {spec.path} ({change})")
    return True


def revert_kernelspec(
    spec: KernelSpecRef, out: Output, *, python_only: bool, dry_run: bool
) -> bool:
    """Restore one kernel.json from its backup; raises KernelFileError.

    Returns False when the kernelspec was skipped (not Python and ``python_only``).
    """
    _check_guarded(spec)
    target = os.path.realpath(spec.path)
    folder = os.path.dirname(target)
    with folder_lock(folder) as locked:
        raw, obj = read_json_object(spec.path)
        if python_only and not _is_python(obj):
            out.info(f"{spec.name}: skipped (language {_describe(obj.get('language'))})")
            return False
        backup_path = target + BACKUP_SUFFIX
        backup = _read_backup(backup_path)
        if backup is None:
            state = "" if _current_value(obj) is None else f", {ENV_VAR} left as it is"
            out.info(f"{spec.name}: nothing to revert (no backup {backup_path}{state})")
            return True
        backup_raw, backup_obj = backup
        kept = ""
        if is_our_patch(obj, backup_obj):
            new_raw = backup_raw
        else:
            restored = restore_config(obj, backup_obj)
            same = _canonical(restored) == _canonical(obj)
            new_raw = raw if same else JsonStyle.of(raw.decode("utf-8")).dump(restored)
            kept = " (kept the changes made to it since the patch)"
        if dry_run:
            if new_raw == raw:
                out.info(f"{spec.name}: nothing to revert (already as before the patch)")
            else:
                out.info(f"{spec.name}: would revert {spec.path}{kept}")
            return True
        if locked:
            _remove_stale_temp_files(folder, os.path.basename(target))
        changed = new_raw != raw
        if changed:
            atomic_write(target, new_raw, FileOwner.of(target))
        _remove(backup_path)
    if changed:
        out.info(f"{spec.name}: reverted {spec.path}{kept}")
    else:
        out.info(f"{spec.name}: already reverted (removed the backup)")
    return True


def _select_kernels(
    specs: list[KernelSpecRef], names: list[str], all_kernels: bool, searched: list[str]
) -> tuple[list[KernelSpecRef], bool]:
    """The kernelspecs to work on, and whether non-Python ones are to be skipped."""
    if not specs:
        raise PatchError("no kernelspecs found; searched: " + ", ".join(searched))
    if names:
        by_name: dict[str, list[KernelSpecRef]] = {}
        for spec in specs:  # one name may live in several folders: each is patched
            by_name.setdefault(spec.name, []).append(spec)
        unknown = [name for name in names if name.lower() not in by_name]
        if unknown:
            raise PatchError(
                "unknown kernelspec "
                + ", ".join(repr(name) for name in unknown)
                + "; found: "
                + ", ".join(sorted(by_name))
            )
        chosen = list(dict.fromkeys(s for name in names for s in by_name[name.lower()]))
        return chosen, False
    return specs, not all_kernels


def _run_kernel_mode(
    config_path: str,
    out: Output,
    *,
    names: list[str],
    all_kernels: bool,
    revert: bool,
    dry_run: bool,
    kernel_dirs: Sequence[str] = (),
) -> None:
    if names and all_kernels:
        raise PatchError("use either --kernel NAME or --all, not both")
    for kernels_dir in kernel_dirs:
        if not os.path.isdir(kernels_dir):
            out.info(f"note: no kernel folder {kernels_dir} (nothing to patch there)")
    specs, searched = find_kernelspecs(kernel_dirs)
    chosen, python_only = _select_kernels(specs, names, all_kernels, searched)
    value = kernel_env_value(config_path)
    handled = 0
    for spec in chosen:
        try:
            if revert:
                handled += revert_kernelspec(spec, out, python_only=python_only, dry_run=dry_run)
            else:
                handled += patch_kernelspec(
                    spec, value, out, python_only=python_only, dry_run=dry_run
                )
        except KernelFileError as exc:
            out.error(f"{spec.name}: {exc}; left unchanged")
        except OSError as exc:
            out.error(f"{spec.name}: {spec.path}: cannot write: {exc}; left unchanged")
    if handled == 0 and out.errors == 0:
        raise PatchError(
            "no Python kernelspec found among "
            + ", ".join(s.name for s in chosen)
            + "; use --kernel NAME or --all"
        )


# --------------------------------------------------------------------------------------------
# legacy nbuser_settings.py


def nbuser_block(config_path: str, flags: str = "") -> str:
    """The managed block: sets MSTICPYCONFIG to ``config_path`` as a Python string literal."""
    return (
        BLOCK_BEGIN.format(flags=flags)
        + "# Written by msticpy-provision (patch-kernel --mode nbuser); --revert removes it.\n"
        + "import os\n"
        + f'os.environ["{ENV_VAR}"] = {config_path!r}\n'
        + BLOCK_END
        + "\n"
    )


def assigned_config(text: str) -> str | None:
    """The value a top-level ``os.environ["MSTICPYCONFIG"] = "..."`` in ``text`` sets, if any.

    The last such statement wins, as it would when Python runs the file; anything that is not
    a plain string constant counts as unknown.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    index_type = getattr(ast, "Index", None)  # Python 3.8 wraps subscripts in ast.Index
    value: str | None = None
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Subscript):
            continue
        key = target.slice
        if index_type is not None and isinstance(key, index_type):
            key = key.value
        environ = target.value
        if (
            isinstance(key, ast.Constant)
            and key.value == ENV_VAR
            and isinstance(environ, ast.Attribute)
            and environ.attr == "environ"
            and isinstance(environ.value, ast.Name)
            and environ.value.id == "os"
        ):
            constant = node.value
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                value = constant.value
            else:
                value = None
    return value


def _decode(raw: bytes) -> str:
    # surrogateescape keeps any bytes that are not UTF-8 exactly as they were.
    return raw.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _new_file_owner(folder: str) -> FileOwner:
    """Mode and owner for a file we create: the user folder's owner (we may run as root)."""
    st = os.stat(folder)
    return FileOwner(mode=0o644, uid=st.st_uid, gid=st.st_gid)


def run_nbuser_mode(
    config_path: str, user_folder: str, revert: bool, dry_run: bool, out: Output
) -> None:
    """Write, update or remove the block in <user_folder>/nbuser_settings.py."""
    if not os.path.isdir(user_folder):
        raise PatchError(f"user folder {user_folder} does not exist (is the share mounted?)")
    path = os.path.join(user_folder, NBUSER_FILE)
    label = NBUSER_FILE
    with folder_lock(user_folder) as locked:
        exists = os.path.lexists(path)
        try:
            raw = b""
            if exists:
                with open(path, "rb") as handle:
                    raw = handle.read()
        except OSError as exc:
            raise KernelFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
        text = _decode(raw)
        match = _BLOCK_RE.search(text)
        if match is None and _BLOCK_BEGIN_RE.search(text):
            raise KernelFileError(
                f"{path}: has a msticpy-provision begin marker without its end marker "
                f"({BLOCK_END!r}); fix or remove the block by hand"
            )
        if revert:
            if match is None:
                out.info(f"{label}: nothing to revert (no msticpy-provision block in {path})")
                return
            flags = match.group("flags")
            before, after = text[: match.start()], text[match.end() :]
            if FLAG_NEWLINE.strip() in flags and not after and before.endswith("\n"):
                before = before[:-1]
            new_text = before + after
            remove = not new_text and FLAG_CREATED.strip() in flags
            if dry_run:
                out.info(f"{label}: would revert {path}" + (" (remove the file)" if remove else ""))
                return
            if locked:
                _remove_stale_temp_files(user_folder, NBUSER_FILE)
            if remove:
                _remove(path)
                out.info(f"{label}: reverted (removed {path}, which msticpy-provision created)")
            else:
                atomic_write(path, _encode(new_text), FileOwner.of(path))
                out.info(f"{label}: reverted {path}")
            return
        if match is None and assigned_config(text) == config_path:
            # e.g. the nbuser_settings.py that `apply` uploads already sets exactly this value
            out.info(f"{label}: already set by the file itself ({path})")
            return
        if match is not None:
            new_text = (
                text[: match.start()]
                + nbuser_block(config_path, match.group("flags"))
                + text[match.end() :]
            )
        elif not exists:
            new_text = nbuser_block(config_path, FLAG_CREATED)
        elif text == "" or text.endswith("\n"):
            new_text = text + nbuser_block(config_path)
        else:
            new_text = text + "\n" + nbuser_block(config_path, FLAG_NEWLINE)
        if new_text == text:
            out.info(f"{label}: already set ({path})")
            return
        if dry_run:
            out.info(f"{label}: would patch {path} ({ENV_VAR} -> {config_path!r})")
            return
        if locked:
            _remove_stale_temp_files(user_folder, NBUSER_FILE)
        owner = FileOwner.of(path) if exists else _new_file_owner(user_folder)
        atomic_write(path, _encode(new_text), owner)
    out.info(f"{label}: patched {path} ({ENV_VAR} -> {config_path!r})")


# --------------------------------------------------------------------------------------------
# entry points


def run_patch_kernel(
    *,
    config: str,
    kernels: list[str],
    all_kernels: bool,
    mode: str,
    user_folder: str | None,
    revert: bool,
    dry_run: bool,
    strict: bool,
    log_file: str | None = None,
    kernel_dirs: Sequence[str] = (),
) -> int:
    """Point the kernels (or nbuser_settings.py) at ``config``; returns the exit code.

    Prints one line per kernelspec (patched / already set / reverted / would patch / skipped)
    on stdout and one line per warning or error on stderr. Exit code 1 when anything failed;
    the other kernelspecs are still processed.
    """
    out = Output(log_file)
    try:
        _run(
            config,
            out,
            kernels=kernels,
            all_kernels=all_kernels,
            mode=mode,
            user_folder=user_folder,
            revert=revert,
            dry_run=dry_run,
            strict=strict,
            kernel_dirs=kernel_dirs,
        )
    except PatchError as exc:
        out.error(str(exc))
    except KernelFileError as exc:
        out.error(f"{exc}; left unchanged")
    except OSError as exc:
        out.error(f"cannot write: {exc}; left unchanged")
    finally:
        out.close()
    return 1 if out.errors else 0


def _run(
    config: str,
    out: Output,
    *,
    kernels: list[str],
    all_kernels: bool,
    mode: str,
    user_folder: str | None,
    revert: bool,
    dry_run: bool,
    strict: bool,
    kernel_dirs: Sequence[str] = (),
) -> None:
    if mode not in MODES:
        raise PatchError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if mode == "nbuser" and not user_folder:
        raise PatchError("--user-folder is required with --mode nbuser")
    config_path = os.path.abspath(os.path.expanduser(config)) if config else ""
    if not revert:
        if not config_path:
            raise PatchError("--config is required")
        if not os.path.isfile(config_path):
            message = f"config {config_path} does not exist (yet)"
            if strict:
                raise PatchError(f"{message}; nothing changed (--strict)")
            out.warn(f"{message}; patching anyway (the share may not be mounted yet)")
    if mode == "nbuser":
        assert user_folder is not None  # checked above; narrows the type
        if kernels or all_kernels:
            out.warn("--kernel and --all do not apply to --mode nbuser; ignored")
        out.info(NBUSER_NOTE)
        run_nbuser_mode(config_path, os.path.abspath(user_folder), revert, dry_run, out)
    else:
        dirs = [os.path.abspath(os.path.expanduser(d)) for d in kernel_dirs]
        _run_kernel_mode(
            config_path,
            out,
            names=kernels,
            all_kernels=all_kernels,
            revert=revert,
            dry_run=dry_run,
            kernel_dirs=dirs,
        )


@dataclass(frozen=True)
class Flag:
    """One flag of patch-kernel, for both of its command lines: the ``patch-kernel`` invoke task
    (provision/tasks.py reads this table for its help and repeatable flags; a test holds its
    signature to it) and this file's argparse, which the compute's startup script runs."""

    name: str  # the parameter; the flag is --name with "-" for "_"
    help: str
    kind: str = "value"  # "value": one text; "list": repeatable; "switch": no value
    default: Any = None
    choices: Sequence[str] = ()
    metavar: str | None = None
    # False: only the stand-alone patcher has it (the task's flags are pinned by a test)
    task: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


# In the order of the task's parameters (invoke derives its short flags from that order).
PATCH_KERNEL_FLAGS = (
    Flag("config", "path of msticpyconfig.yaml as the compute instance sees it"),
    Flag(
        "kernel",
        "kernelspec name to patch (repeatable); default: every Python kernel found",
        kind="list",
        metavar="NAME",
    ),
    Flag("all", "patch every kernelspec found, not only Python ones", kind="switch"),
    Flag(
        "mode",
        "kernel (kernel.json env, default) or nbuser (legacy nbuser_settings.py)",
        default="kernel",
        choices=MODES,
    ),
    Flag("user_folder", "user folder holding nbuser_settings.py (mode nbuser)"),
    Flag("revert", "restore the state from before the patch", kind="switch"),
    Flag("dry_run", "say what would change, change nothing", kind="switch"),
    Flag(
        "strict",
        "fail (exit 1) when --config does not exist yet, instead of warning",
        kind="switch",
    ),
    Flag(
        "kernel_dir",
        "also every kernelspec in this kernels folder (repeatable), e.g. "
        "/home/azureuser/.local/share/jupyter/kernels or "
        "/anaconda/envs/jupyter_env/share/jupyter/kernels (the Jupyter server's environment)",
        kind="list",
        metavar="DIR",
    ),
    Flag("log_file", "also append every output line, timestamped, here", task=False),
)


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone patcher's command line, built from PATCH_KERNEL_FLAGS."""
    parser = argparse.ArgumentParser(
        prog="msticpy-provision-patch-kernel",
        description="Point the Jupyter kernels (kernel.json env) or the legacy "
        "nbuser_settings.py at msticpyconfig.yaml through MSTICPYCONFIG.",
    )
    for f in PATCH_KERNEL_FLAGS:
        if f.kind == "switch":
            parser.add_argument(f.flag, action="store_true", help=f.help)
        elif f.kind == "list":
            parser.add_argument(f.flag, action="append", default=[], metavar=f.metavar, help=f.help)
        else:
            parser.add_argument(
                f.flag,
                default=f.default,
                choices=list(f.choices) or None,
                metavar=f.metavar,
                help=f.help,
            )
    return parser


def run_flags(flags: Mapping[str, Any]) -> int:
    """Run the patcher with either command line's flags (named as in PATCH_KERNEL_FLAGS)."""
    return run_patch_kernel(
        config=flags["config"] or "",
        kernels=list(flags["kernel"] or []),
        all_kernels=bool(flags["all"]),
        mode=str(flags["mode"]),
        user_folder=flags["user_folder"],
        revert=bool(flags["revert"]),
        dry_run=bool(flags["dry_run"]),
        strict=bool(flags["strict"]),
        log_file=flags.get("log_file"),
        kernel_dirs=list(flags["kernel_dir"] or []),
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.config and not args.revert:
        parser.error("--config is required (except with --revert)")
    return run_flags(vars(args))


if __name__ == "__main__":
    sys.exit(main())
