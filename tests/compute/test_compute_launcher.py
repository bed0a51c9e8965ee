"""The inline launcher runs the share's startup script only when its SHA-256 is the pinned one.

Run with the real bash, from the folder Azure ML starts inline scripts in (the share's Users
folder: Microsoft Learn, "Customize the compute instance with a script", inline scripts).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from provision.compute import launcher_pin, launcher_script

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("sha256sum") is None, reason="needs bash"
)

ALIAS = "ann.o'neil"
SCRIPT_NAME = "msticpy-provision-startup.sh"


def _share(tmp_path: Path, script: str) -> Path:
    users = tmp_path / "code" / "Users"
    (users / ALIAS).mkdir(parents=True)
    (users / ALIAS / SCRIPT_NAME).write_text(script, encoding="utf-8")
    return users


def _boot(users: Path, launcher: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(users.parent.parent)}
    return subprocess.run(
        ["bash", "-c", launcher],
        cwd=users,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_pinned_script_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = f"#!/bin/bash\necho ok >{marker}\n"
    users = _share(tmp_path, script)
    res = _boot(users, launcher_script(ALIAS, hashlib.sha256(script.encode()).hexdigest()))
    assert res.returncode == 0, res.stderr
    assert marker.read_text() == "ok\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp.")]  # copy removed


def test_a_rewritten_script_is_refused_and_the_boot_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    pinned = "#!/bin/bash\ntrue\n"
    users = _share(tmp_path, f"#!/bin/bash\necho pwned >{marker}\n")  # another workspace user
    res = _boot(users, launcher_script(ALIAS, hashlib.sha256(pinned.encode()).hexdigest()))
    assert res.returncode == 0
    assert not marker.exists()
    assert "refused" in res.stdout and "recreate the instance" in res.stdout


def test_a_missing_script_is_a_logged_no_op(tmp_path: Path) -> None:
    users = tmp_path / "code" / "Users"
    users.mkdir(parents=True)
    res = _boot(users, launcher_script(ALIAS, "0" * 64))
    assert res.returncode == 0 and "cannot read" in res.stdout


def test_the_pin_is_read_back_from_scriptdata() -> None:
    launcher = launcher_script(ALIAS, "a" * 64)
    data = base64.b64encode(launcher.encode()).decode()
    assert launcher_pin(data) == (ALIAS, "a" * 64)
    other = base64.b64encode(b"#!/bin/bash\necho hi\n").decode()
    assert launcher_pin(other) is None
    assert launcher_pin("not base64!") is None
