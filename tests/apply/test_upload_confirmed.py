"""An upload the service confirmed is not downloaded again after apply; `verify` still reads
every file.

Azure Files refuses a Put Range whose body does not match the Content-MD5 sent (400
Md5Mismatch) and answers with the Content-MD5 it computed; Rename File answers with the renamed
file's ETag (learn.microsoft.com/rest/api/storageservices/rename-file, response headers; the
SDKs' FileRenameHeaders.etag: "the version of the file"). Together they say what the file now
holds, so the read-back download after apply fetched bytes already confirmed.
"""

from __future__ import annotations

from pathlib import Path

from support import run_invoke
from support.clients import share_client

from provision.emulator import Emulator, seed_tenants_from_inventory
from provision.emulator.requestlog import is_write
from provision.emulator.seed import storage_account_name
from provision.inventory.load import load_inventory
from provision.share import WorkspaceShare
from provision.workspace import CODE_SHARE


def _user_file_gets(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["path"]) for r in rows if r["op"] == "GetFile" and "/Users/" in str(r["path"])]


def test_upload_atomic_returns_the_etag_of_exactly_the_content_sent(
    fleet: Path, emu: Emulator
) -> None:
    account = storage_account_name(seed_tenants_from_inventory(load_inventory(fleet))[0])
    client = share_client(emu, account, share=CODE_SHARE)
    share = WorkspaceShare(client, tenant="t")
    share.ensure_folder("Users/someone")
    etag = share.upload_atomic("Users/someone/a.txt", b"first\n", "text/plain")
    props = client.get_file_client("Users/someone/a.txt").get_file_properties()
    assert etag is not None and etag == str(props.etag).strip('"')
    again = share.upload_atomic("Users/someone/a.txt", b"second\n", "text/plain")
    assert again is not None and again != etag
    got = share.download("Users/someone/a.txt")
    assert got == (b"second\n", again)


def test_apply_skips_the_read_back_download_and_verify_reads_every_file(
    fleet: Path, emu: Emulator
) -> None:
    endpoints = ["--endpoints", str(emu.endpoints_file)]
    start = len(emu.requests())
    first = run_invoke("apply", "-i", str(fleet), *endpoints)
    assert first.returncode == 0, first.stdout + first.stderr
    applied = emu.requests()[start:]
    renames = [r for r in applied if r["op"] == "RenameFile" and "/Users/" in str(r["path"])]
    assert renames, "apply uploads the user files"
    # the only user-file reads: none (new files were planned from the folder listings)
    assert _user_file_gets(applied) == []

    mark = len(emu.requests())
    again = run_invoke("apply", "-i", str(fleet), *endpoints)
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = emu.requests()[mark:]
    assert [r for r in rerun if is_write(r)] == []
    # the manifest holds the renamed files' ETags: the no-op plan downloads no user file
    assert _user_file_gets(rerun) == []

    mark = len(emu.requests())
    verify = run_invoke("verify", "-i", str(fleet), *endpoints)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert sorted(_user_file_gets(emu.requests()[mark:])) == sorted(str(r["path"]) for r in renames)
