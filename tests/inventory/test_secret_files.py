"""Secret files saved by Windows editors give the same value as the same file saved elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision.errors import UserInputError
from provision.secrets import resolve_sources

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize(
    "raw",
    [
        b"abc123",
        b"abc123\n",
        b"abc123\r\n",
        BOM + b"abc123",
        BOM + b"abc123\r\n",  # Notepad's "UTF-8 with BOM", Windows line end
    ],
)
def test_windows_style_secret_file_gives_the_plain_value(raw: bytes, tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_bytes(raw)
    values = resolve_sources(["file:key.txt"], tmp_path, environ={})
    assert values["file:key.txt"].reveal() == "abc123"


def test_multi_line_value_with_crlf_reads_like_lf(tmp_path: Path) -> None:
    (tmp_path / "lf.pem").write_bytes(b"-----BEGIN-----\nAAAA\n-----END-----\n")
    (tmp_path / "crlf.pem").write_bytes(BOM + b"-----BEGIN-----\r\nAAAA\r\n-----END-----\r\n")
    values = resolve_sources(["file:lf.pem", "file:crlf.pem"], tmp_path, environ={})
    assert values["file:crlf.pem"] == values["file:lf.pem"]


def test_a_file_holding_only_a_bom_is_empty(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_bytes(BOM + b"\r\n")
    with pytest.raises(UserInputError, match="is empty"):
        resolve_sources(["file:key.txt"], tmp_path, environ={})


def test_a_bom_inside_the_value_is_kept(tmp_path: Path) -> None:
    """Only a leading mark is an editor's doing; anything else is the value itself."""
    (tmp_path / "key.txt").write_bytes(b"ab" + BOM + b"c")
    values = resolve_sources(["file:key.txt"], tmp_path, environ={})
    assert values["file:key.txt"].reveal() == "ab\ufeffc"
