"""`import -s DIR`: a relative DIR is the inventory's folder's, wherever the command runs, and the
secret files it writes are kept out of git."""

from __future__ import annotations

import sys
from pathlib import Path

from support import REPO, run_invoke

sys.path.insert(0, str(REPO / "tests" / "adopt"))
from adopt_cases import BASE_INVENTORY, CONFIGS

PLACE = (
    "--ml-workspace", "mlw-lab", "--user", "ana", "--key-vault", "kv-lab-nb",
    "--subscription-id", "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f", "--resource-group", "rg-lab",
)  # fmt: skip


def test_a_relative_secrets_dir_is_the_inventorys_folders(tmp_path: Path) -> None:
    inventory = tmp_path / "fleet" / "inventory.yaml"
    inventory.parent.mkdir()
    inventory.write_text(BASE_INVENTORY, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = CONFIGS / "plaintext_keys.yaml"
    res = run_invoke(
        "--search-root", str(REPO), "import", "-c", str(config), "-t", "lab",
        "-i", str(inventory), "-s", "secrets", *PLACE, cwd=elsewhere,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    written = inventory.parent / "secrets"
    assert sorted(p.name for p in written.iterdir() if p.suffix == ".txt")
    assert not (elsewhere / "secrets").exists()
    # the references the inventory now holds resolve to the files written
    assert "file:secrets/lab-" in inventory.read_text(encoding="utf-8")
    assert (written / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
