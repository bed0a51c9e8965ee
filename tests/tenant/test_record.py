"""What one read may take from the tool's record: the ReadMode table of provision.tenant.record."""

from __future__ import annotations

import pytest

from provision.share import RemoteFile, md5_hex
from provision.tenant.context import ReadMode
from provision.tenant.record import Manifest, Record

CONTENT = b"msticpy: settings\n"
PATH = "Users/alice/msticpyconfig.yaml"


def record(mode: ReadMode, **extra: object) -> Record:
    manifest = Manifest(
        files={PATH: {"etag": "0x1", "md5": md5_hex(CONTENT)}},
        secrets={"kv-a": ["one", "two"]},
        **extra,  # type: ignore[arg-type]
    )
    return Record(manifest, mode)


@pytest.mark.parametrize("mode", [ReadMode.PLAN, ReadMode.TRUST])
def test_a_listed_file_with_the_recorded_etag_and_size_is_vouched_for(mode: ReadMode) -> None:
    r = record(mode)
    assert r.vouches_for(PATH, RemoteFile("msticpyconfig.yaml", "0x1", len(CONTENT)), CONTENT)
    # the same size, other bytes wanted: the record says the file does not hold them
    assert r.vouches_for(PATH, RemoteFile("m", "0x1", len(CONTENT)), b"other bytes!!!!!!!") is False
    assert r.vouches_for(PATH, RemoteFile("m", "0x2", len(CONTENT)), CONTENT) is None
    assert r.vouches_for(PATH, RemoteFile("m", "0x1", len(CONTENT) + 1), CONTENT) is None


def test_verify_takes_nothing_from_the_record() -> None:
    r = record(ReadMode.VERIFY)
    assert r.vouches_for(PATH, RemoteFile("m", "0x1", len(CONTENT)), CONTENT) is None
    assert r.tagged_secrets(["kv-a"], prunes=False) is None


def test_only_trust_stands_in_for_the_vault_listing_and_never_when_pruning() -> None:
    assert record(ReadMode.TRUST).tagged_secrets(["kv-a"], prunes=False) == {"kv-a": ["one", "two"]}
    assert record(ReadMode.TRUST).tagged_secrets(["kv-a"], prunes=True) is None
    assert record(ReadMode.PLAN).tagged_secrets(["kv-a"], prunes=False) is None
    # a vault the record does not cover is listed
    assert record(ReadMode.TRUST).tagged_secrets(["kv-a", "kv-b"], prunes=False) is None


def test_a_file_is_as_the_tool_wrote_it_only_with_the_recorded_etag() -> None:
    r = record(ReadMode.PLAN)
    assert r.written_as_is(PATH, "0x1")
    assert not r.written_as_is(PATH, "0x9")
    assert not r.written_as_is(PATH, None)
    assert not r.written_as_is("Users/bob/work.ipynb", "0x1")
    assert r.aliases() == {"alice"}


def test_after_apply_forgets_pruned_files_and_an_unchanged_record_is_equal() -> None:
    r = record(ReadMode.PLAN)
    same = r.after_apply({PATH: ("0x1", CONTENT)}, [], {"kv-a": ["one", "two"]}, {})
    assert same == r.manifest
    pruned = r.after_apply({}, [PATH], None, {})
    assert pruned.files == {} and pruned.secrets is None
    assert Manifest.from_json(pruned.to_json()) == pruned


def test_a_record_that_is_not_json_reads_as_empty() -> None:
    assert Manifest.from_json(b"\x00not json") == Manifest()
    assert Manifest.from_json(b"[1, 2]") == Manifest()
