"""Secret values: resolving `env:NAME` / `file:PATH` references without ever showing a value.

Values travel inside `SecretValue`, whose repr and str are redacted, so a value that reaches a log
line, an exception or a report by mistake shows as `<secret>`. A `file:` holds one value: a
leading byte-order mark, CRLF line ends and one trailing newline are not part of it. `file:` paths
are relative to the inventory's folder and must stay inside it, symlinks included: a pull request
cannot make the tool read (and push to Key Vault) a file from elsewhere on the runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from provision.errors import Problem, UserInputError

MAX_SECRET_BYTES = 25 * 1024  # Key Vault's limit for a secret value is 25 KiB


class SecretValue:
    """A secret string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def resolve_sources(
    sources: Iterable[str],
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    where: Mapping[str, str] | None = None,
) -> dict[str, SecretValue]:
    """Resolve every reference; raise one UserInputError naming every missing one (no values).

    `where` optionally maps a reference to the place it is used (for the message).
    """
    env = os.environ if environ is None else environ
    values: dict[str, SecretValue] = {}
    problems: list[Problem] = []
    for ref in dict.fromkeys(sources):
        used = f" (used by {where[ref]})" if where and ref in where else ""
        try:
            values[ref] = SecretValue(_resolve(ref, base_dir, env))
        except _Missing as exc:
            problems.append(Problem(f"{exc}{used}"))
    if problems:
        raise UserInputError(problems)
    return values


class _Missing(Exception):
    pass


def _resolve(ref: str, base_dir: Path, env: Mapping[str, str]) -> str:
    if ref.startswith("env:"):
        name = ref[4:]
        value = env.get(name)
        if value is None:
            raise _Missing(f"environment variable {name} is not set")
        if value == "":
            raise _Missing(f"environment variable {name} is empty")
        return _check_size(value, f"environment variable {name}")
    if ref.startswith("file:"):
        return _read_secret_file(ref[5:], base_dir)
    raise _Missing("not a secret reference (expected env:NAME or file:PATH)")


def _read_secret_file(rel: str, base_dir: Path) -> str:
    base = base_dir.resolve()
    target = base / rel
    try:
        resolved = target.resolve(strict=True)
    except FileNotFoundError:
        raise _Missing(f"secret file {target} does not exist") from None
    except (OSError, RuntimeError) as exc:
        raise _Missing(f"secret file {target} cannot be resolved: {exc}") from None
    if not resolved.is_relative_to(base):
        raise _Missing(
            f"secret file {target} leads outside the inventory's folder {base} "
            "(symlink or '..'); use env: for secrets kept elsewhere"
        )
    if resolved.is_dir():
        raise _Missing(f"secret file {target} is a directory")
    if not resolved.is_file():
        raise _Missing(f"secret file {target} is not a regular file")
    try:
        with resolved.open("rb") as fh:
            raw = fh.read(MAX_SECRET_BYTES + 2)
    except OSError as exc:
        raise _Missing(f"secret file {target} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Missing(f"secret file {target} is not UTF-8 text") from None
    # Windows editors save a byte-order mark and CRLF line ends: neither is part of the value,
    # and pushing them would give the same file a different value on another runner.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    text = text[:-1] if text.endswith("\n") else text
    if not text:
        raise _Missing(f"secret file {target} is empty")
    return _check_size(text, f"secret file {target}")


def _check_size(value: str, what: str) -> str:
    if len(value.encode("utf-8")) > MAX_SECRET_BYTES:
        raise _Missing(f"{what} holds more than 25 KiB (Key Vault's limit)")
    return value
