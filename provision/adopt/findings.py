"""Plaintext secrets in msticpy configs: where an API key sits as a literal value.

A secret setting is one msticpy reads as a credential (`provision.msticpy_contract.block.
is_secret_setting`: its schema's `cred_key` settings, and the usual credential names of custom
providers). Only setting paths are reported; values stay wrapped in `SecretValue`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from provision.errors import UserInputError
from provision.msticpy_contract.block import is_msticpy_reference, is_secret_setting, walk
from provision.secrets import SecretValue
from provision.yamlsource import load_yaml_text


def _is_plaintext(parts: tuple[str, ...], value: Any) -> bool:
    literal = isinstance(value, str | int | float) and not isinstance(value, bool)
    return literal and value != "" and is_secret_setting(parts)


def find_plaintext(cfg: Mapping[str, Any]) -> dict[str, SecretValue]:
    """Every secret setting that holds a literal value (numbers count; empty text does not)."""
    return {
        ".".join(parts): SecretValue(str(value))
        for parts, value in walk(cfg)
        if _is_plaintext(parts, value)
    }


def redact_plaintext(content: bytes, source: str) -> tuple[bytes, list[str]]:
    """`content` with every plaintext secret's value replaced by a marker naming its setting,
    comments and layout kept, and the settings redacted (the content as is when it has none,
    or is not YAML msticpy could read)."""
    settings = plaintext_settings(content, source)
    if not settings:
        return content, []
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: the analyst's comments and layout stay
    y.preserve_quotes = True
    y.width = 4096
    doc = y.load(content.decode("utf-8"))  # accepted (and bounded) by plaintext_settings

    def redact(node: Any, parts: tuple[str, ...]) -> None:
        for key in list(node):
            path, value = (*parts, str(key)), node[key]
            if _is_plaintext(path, value):
                node[key] = f"<redacted by msticpy-provision: {'.'.join(path)}>"
            elif isinstance(value, Mapping) and not is_msticpy_reference(value):
                redact(value, path)

    redact(doc, ())
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue().encode("utf-8"), settings


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
