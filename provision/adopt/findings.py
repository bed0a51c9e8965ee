"""Plaintext secrets in msticpy configs: where an API key sits as a literal value.

A secret setting is one msticpy reads as a credential (`provision.msticpy_contract.block.
is_secret_setting`: its schema's `cred_key` settings, and the usual credential names of custom
providers). Only setting paths are reported; values stay wrapped in `SecretValue`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provision.errors import UserInputError
from provision.msticpy_contract.block import is_secret_setting, walk
from provision.secrets import SecretValue
from provision.yamlsource import load_yaml_text


def find_plaintext(cfg: Mapping[str, Any]) -> dict[str, SecretValue]:
    """Every secret setting that holds a literal value (numbers count; empty text does not)."""
    out: dict[str, SecretValue] = {}
    for parts, value in walk(cfg):
        literal = isinstance(value, str | int | float) and not isinstance(value, bool)
        if literal and value != "" and is_secret_setting(parts):
            out[".".join(parts)] = SecretValue(str(value))
    return out


def plaintext_settings(content: bytes, source: str) -> list[str]:
    """Setting paths of a msticpyconfig file's plaintext secrets (none if it is not readable)."""
    try:
        doc = load_yaml_text(content.decode("utf-8"), source)
    except (UnicodeDecodeError, UserInputError):
        return []  # not a config msticpy could read either: nothing to report as a secret
    return list(find_plaintext(doc.data)) if isinstance(doc.data, Mapping) else []


def plaintext_note(path: str, setting: str) -> str:
    """The plan's note for one finding: where, never what."""
    return (
        f"plaintext secret in {path}: {setting} holds a literal value (not shown); apply "
        "replaces the file with Key Vault references: rotate that key"
    )
