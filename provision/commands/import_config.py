"""`import`: bring an analyst's existing msticpyconfig.yaml into the inventory as a tenant.

Order of work: read and check everything, build the entry, validate the whole resulting inventory
exactly as `validate` would, and only then write (secret files first, the inventory last, each
atomically). A failure at any step writes nothing. Secret values go only into 0600 files inside
the inventory's folder; they are never printed, logged or put in the inventory.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision.adopt.inventory_edit import dump_entry, existing_tenant, put_tenant
from provision.adopt.mapping import ImportFailed, Placement, additions, import_config
from provision.errors import Problem, UserInputError
from provision.fsutil import write_atomic
from provision.inventory.load import load_inventory_text
from provision.msticpy_contract.secret_names import format_kv_name
from provision.msticpy_contract.settings import build_msticpyconfig
from provision.secrets import SecretValue
from provision.yamlsource import YamlDocument, load_yaml_text, read_text_bounded

Reference = Callable[[str], str]  # setting path -> env:/file: reference for its plaintext value
_ENV_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(kw_only=True)
class ImportOptions:
    """The flags of `invoke import`."""

    config: str | None
    tenant: str
    inventory: str | None = None
    secrets_dir: str | None = None
    env_prefix: str | None = None
    replace: bool = False
    ml_workspace: str | None = None
    key_vault: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    users: list[str] = field(default_factory=list)
    from_share: bool = False  # read Users/<users[0]>/msticpyconfig.yaml from the tenant's share
    endpoints: str | None = None
    local: bool = False
    auth: str | None = None  # with from_share: how to sign in (provision.signin)
    allow_unencrypted_cache: bool = False


def run(opts: ImportOptions) -> int:
    """Import a msticpyconfig as tenant OPTS.tenant: print the entry or write the inventory."""
    inv_path = Path(opts.inventory) if opts.inventory else None
    base_dir = inv_path.parent if inv_path else Path.cwd()
    inv_text = read_text_bounded(inv_path, "inventory") if inv_path else None
    if inv_text is not None:
        load_yaml_text(inv_text, str(inv_path))  # bounds and syntax before ruamel sees it
    place = _placement(opts, inv_text)
    reference = _reference_maker(opts, base_dir)
    doc, source = _read_config(opts)
    if not isinstance(doc.data, dict):
        raise UserInputError(
            [Problem("a msticpyconfig must be a mapping of msticpy sections", file=source)]
        )
    try:
        result = import_config(doc.data, place, reference)
    except ImportFailed as exc:
        raise UserInputError(
            [
                Problem(f"{where}: {message}", file=source, line=_line(doc, where))
                for where, message in exc.problems
            ]
        ) from None
    files = _secret_files(opts, source, base_dir, result.plaintext, reference)
    if inv_path is not None and inv_text is not None:
        new_text = put_tenant(inv_text, result.entry, str(inv_path), opts.replace)
        inv = load_inventory_text(new_text, inv_path)  # what validate would say, before writing
    else:
        new_text = None
        inv = load_inventory_text(
            f"version: 1\ntenants:\n{dump_entry(result.entry)}", base_dir / "-"
        )
    # with the inventory's defaults merged in: what the tenant will really render
    added = additions(result.original, build_msticpyconfig(inv.select([opts.tenant])[0]))
    write_out(opts, files, inv_path, inv_text, new_text, result.entry)
    _tell(result.plaintext, reference, files)
    if added:
        print("the rendered config also sets (not in the original):", file=sys.stderr)
        for setting in added:
            print(f"  {setting}", file=sys.stderr)
    return 0


def write_out(
    opts: ImportOptions,
    files: list[tuple[Path, str]],
    inv_path: Path | None,
    inv_text: str | None,
    new_text: str | None,
    entry: dict[str, Any],
) -> None:
    """The secret files (0600), then the inventory (its own mode), each atomically; or, without
    an inventory, the entry on stdout."""
    for path, value in files:
        write_atomic(path, value.encode("utf-8") + b"\n")  # 0600
    if files:
        _keep_out_of_git(files[0][0].parent)
    if inv_path is not None and new_text is not None:
        mode = inv_path.stat().st_mode & 0o777
        write_atomic(inv_path, new_text.encode("utf-8"), mode=mode)
        done = "replaced" if _existed(inv_text, opts) else "added"
        print(f"{inv_path}: tenant {opts.tenant} {done}")
    else:
        sys.stdout.write(dump_entry(entry))


def _read_config(opts: ImportOptions) -> tuple[YamlDocument, str]:
    """The config to import, from --config or (--from-share) the analyst's share folder."""
    if opts.from_share:
        if opts.config:
            raise UserInputError(["give --config or --from-share, not both"])
        if not opts.inventory or not opts.users:
            raise UserInputError(
                [
                    "--from-share needs -i INVENTORY (it names the tenant's workspace) "
                    "and --user ALIAS"
                ]
            )
        from provision.adopt.share_source import read_user_config

        text, where = read_user_config(
            opts.inventory,
            opts.tenant,
            opts.users[0],
            endpoints=opts.endpoints,
            local=opts.local,
            auth=opts.auth,
            allow_unencrypted_cache=opts.allow_unencrypted_cache,
        )
        return load_yaml_text(text, where), where
    if not opts.config:
        raise UserInputError(["give --config PATH, or --from-share --user ALIAS"])
    path = Path(opts.config)
    return load_yaml_text(read_text_bounded(path, "msticpy config"), str(path)), str(path)


def _existed(inv_text: str | None, opts: ImportOptions) -> bool:
    return inv_text is not None and existing_tenant(inv_text, opts.tenant) is not None


def _placement(opts: ImportOptions, inv_text: str | None) -> Placement:
    existing = existing_tenant(inv_text, opts.tenant) if inv_text else None
    if existing is not None and not opts.replace:
        raise UserInputError(
            [
                Problem(
                    f"tenant {opts.tenant!r} is already in the inventory; add --replace to "
                    "replace its imported settings",
                    file=opts.inventory,
                )
            ]
        )
    old = existing or {}
    return Placement(
        name=opts.tenant,
        tenant_id=old.get("tenant_id"),
        subscription_id=opts.subscription_id or old.get("subscription_id"),
        resource_group=opts.resource_group or old.get("resource_group"),
        ml_workspace=opts.ml_workspace or old.get("ml_workspace"),
        key_vault=opts.key_vault or old.get("key_vault"),
        # with --from-share, --user names whose config to read: the tenant keeps its users
        users=list(old.get("users") or [])
        if opts.from_share
        else list(opts.users) or list(old.get("users") or []),
    )


def _reference_maker(opts: ImportOptions, base_dir: Path) -> Reference:
    if opts.env_prefix and opts.secrets_dir:
        raise UserInputError(["give either --secrets-dir or --env-prefix, not both"])
    if opts.env_prefix is not None:
        if not _ENV_PREFIX.fullmatch(opts.env_prefix):
            raise UserInputError(
                ["--env-prefix must be a variable-name prefix ([A-Za-z_][A-Za-z0-9_]*)"]
            )
        prefix = opts.env_prefix.rstrip("_")

        def env_ref(path: str) -> str:
            return f"env:{prefix}_{re.sub('[^0-9A-Za-z]', '_', path).upper()}"

        return env_ref
    if opts.secrets_dir is not None:
        folder = _inside(Path(opts.secrets_dir), base_dir)

        def file_ref(path: str) -> str:
            target = folder / f"{opts.tenant}-{format_kv_name(path)}.txt"
            return "file:" + target.relative_to(base_dir.resolve()).as_posix()

        return file_ref

    # No destination: a placeholder, never written; plaintext secrets are refused after the check.
    def unused(path: str) -> str:
        return f"env:UNSET_{re.sub('[^0-9A-Za-z]', '_', path).upper()}"

    return unused


def _inside(folder: Path, base_dir: Path) -> Path:
    """The secrets folder, relative to the inventory's folder (where file: references resolve and
    are confined), as the references it writes are."""
    real = (folder if folder.is_absolute() else base_dir / folder).resolve()
    if not real.is_relative_to(base_dir.resolve()):
        raise UserInputError(
            [
                Problem(
                    f"--secrets-dir must be inside the inventory's folder {base_dir.resolve()} "
                    "(file: references are confined to it)",
                    file=str(folder),
                )
            ]
        )
    return real


def _secret_files(
    opts: ImportOptions,
    source: str,
    base_dir: Path,
    plaintext: dict[str, SecretValue],
    reference: Reference,
) -> list[tuple[Path, str]]:
    if not plaintext:
        return []
    if opts.secrets_dir is None and opts.env_prefix is None:
        raise UserInputError(
            [
                Problem(
                    f"{path}: holds a secret in plain text; give --secrets-dir DIR (one 0600 file "
                    "each) or --env-prefix PREFIX (environment variables)",
                    file=source,
                )
                for path in plaintext
            ]
        )
    if opts.secrets_dir is None:
        return []
    out: list[tuple[Path, str]] = []
    for path, value in plaintext.items():
        target = base_dir.resolve() / reference(path).removeprefix("file:")
        if target.exists() and not opts.replace:
            raise UserInputError(
                [Problem("secret file exists; add --replace to overwrite it", file=str(target))]
            )
        out.append((target, value.reveal()))
    return out


def _keep_out_of_git(folder: Path) -> None:
    """A .gitignore that keeps the secret files out of git (unless the folder has one)."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        write_atomic(
            ignore, b"# secret values written by msticpy-provision import\n*\n", mode=0o644
        )


def _tell(
    plaintext: dict[str, SecretValue], reference: Reference, files: list[tuple[Path, str]]
) -> None:
    """Where the plaintext secrets went (names only, never values), on stderr."""
    if files:
        folder = files[0][0].parent
        print(f"wrote {len(files)} secret files (mode 0600) under {folder}", file=sys.stderr)
    elif plaintext:
        print("set these environment variables before plan/apply:", file=sys.stderr)
        for path in plaintext:
            print(f"  {reference(path).removeprefix('env:')}  ({path})", file=sys.stderr)


def _line(doc: YamlDocument, where: str) -> int | None:
    """The config line of a setting path (None for flags and inventory field names)."""
    line: int | None = doc.lines.get(tuple(where.split(".")))
    return line
