"""`invoke import` as an admin runs it: comments kept, --replace, secrets never shown, bad input."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from adopt_cases import BASE_INVENTORY, CONFIGS
from support import run_invoke

from provision.inventory.load import load_inventory

PLAINTEXT_VALUES = (
    "987654321",
    "plain-xforce-id-123",
    "plain-xforce-key-456",
    "opr-plain-7788",
    "987654321-111",
    "987654321-222",
)
PLACE = (
    "--ml-workspace", "mlw-lab", "--user", "ana", "--key-vault", "kv-lab-nb",
    "--subscription-id", "3f2b6c1e-8a4d-4c3b-9e1f-5a6b7c8d9e0f", "--resource-group", "rg-lab",
)  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    inventory = tmp_path / "fleet" / "inventory.yaml"
    inventory.parent.mkdir()
    inventory.write_text(BASE_INVENTORY, encoding="utf-8")
    inventory.chmod(0o640)
    return inventory


def _import(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_invoke("import", *args, **({"cwd": cwd} if cwd else {}))


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_import_into_the_inventory_keeps_its_comments_and_layout(fleet: Path) -> None:
    config = CONFIGS / "plaintext_keys.yaml"
    secrets = fleet.parent / "secrets"
    res = _import("-c", str(config), "-t", "lab", "-i", str(fleet), "-s", str(secrets), *PLACE)
    assert res.returncode == 0, res.stderr
    text = fleet.read_text(encoding="utf-8")
    assert text.startswith(BASE_INVENTORY), "every existing line, comment and flow list is kept"
    assert "  - name: lab\n    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db49\n" in text
    assert (fleet.stat().st_mode & 0o777) == 0o640, "the inventory keeps its mode"
    assert [t.name for t in load_inventory(fleet).tenants] == ["first", "lab"]
    for value in PLAINTEXT_VALUES:
        assert value not in text
        assert value not in res.stdout + res.stderr
    files = sorted(f for f in secrets.iterdir() if f.name != ".gitignore")
    assert (secrets / ".gitignore").read_text().splitlines()[-1] == "*"  # kept out of git
    assert len(files) == len(PLAINTEXT_VALUES)
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in files)
    assert sorted(f.read_text().strip() for f in files) == sorted(PLAINTEXT_VALUES)


def test_importing_an_existing_tenant_needs_replace_and_keeps_its_other_keys(fleet: Path) -> None:
    config = CONFIGS / "several_workspaces.yaml"
    base = ("-c", str(config), "-t", "first", "-i", str(fleet), "--env-prefix", "FIRST")
    before = fleet.read_bytes()
    refused = _import(*base)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {fleet}: tenant 'first' is already in the inventory; add --replace to "
        "replace its imported settings"
    ]
    assert fleet.read_bytes() == before

    # The config's KeyVault section names the tenant's own vault placement: it must agree.
    text = (
        before.decode()
        .replace("rg-first", "rg-fabrikam-sentinel")
        .replace("kv-first-nb", "kv-fabrikam-nb")
    )
    fleet.write_text(text, encoding="utf-8")
    done = _import(*base, "--replace")
    assert done.returncode == 0, done.stderr
    after = fleet.read_text(encoding="utf-8")
    assert "# the first customer\n  - name: first\n" in after
    assert "key_vault: kv-fabrikam-nb       # the notebooks' vault" in after
    assert "users: [dave]   # flow style stays flow style" in after
    tenant = load_inventory(fleet).select(["first"])[0]
    assert [w.name for w in tenant.sentinel] == ["Fabrikam", "FabrikamDev", "Customer1"]
    assert tenant.ti_providers.VirusTotal is not None
    assert tenant.ti_providers.VirusTotal.args.auth_key == (
        "env:FIRST_TIPROVIDERS_VIRUSTOTAL_ARGS_AUTHKEY"
    )
    # the variables to set are named; the values are shown nowhere
    assert "FIRST_TIPROVIDERS_ABUSEIPDB_ARGS_AUTHKEY" in done.stderr
    for value in ("vt-plain-key-0001", "abuse-plain-key-0002"):
        assert value not in after and value not in done.stdout + done.stderr


def test_import_without_inventory_prints_an_entry_and_names_the_variables(tmp_path: Path) -> None:
    config = str(CONFIGS / "plaintext_keys.yaml")
    res = _import("-c", config, "-t", "lab", "--env-prefix", "LAB", *PLACE)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("  - name: lab\n")
    assert "auth_key: env:LAB_TIPROVIDERS_OTX_ARGS_AUTHKEY" in res.stdout
    assert "  LAB_OTHERPROVIDERS_IPSTACK_ARGS_AUTHKEY  (OtherProviders.IPStack.Args.AuthKey)" in (
        res.stderr
    )
    for value in PLAINTEXT_VALUES:
        assert value not in res.stdout + res.stderr


def test_plaintext_secrets_need_a_destination_and_none_is_shown(fleet: Path) -> None:
    res = _import("-c", str(CONFIGS / "plaintext_keys.yaml"), "-t", "lab", "-i", str(fleet), *PLACE)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == len(PLAINTEXT_VALUES)
    assert all("holds a secret in plain text; give --secrets-dir DIR" in line for line in lines)
    assert "TIProviders.XForce.Args.ApiID" in res.stderr
    for value in PLAINTEXT_VALUES:
        assert value not in res.stdout + res.stderr
    assert fleet.read_text(encoding="utf-8") == BASE_INVENTORY


def test_secrets_dir_outside_the_inventory_folder_is_refused(fleet: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    res = _import(
        "-c", str(CONFIGS / "plaintext_keys.yaml"), "-t", "lab", "-i", str(fleet),
        "-s", str(outside), *PLACE,
    )  # fmt: skip
    assert res.returncode == 1
    assert "--secrets-dir must be inside the inventory's folder" in res.stderr
    assert not outside.exists()
    assert fleet.read_text(encoding="utf-8") == BASE_INVENTORY


BAD_CONFIGS = {
    "not_yaml": ("AzureSentinel: [unclosed\n", "invalid YAML"),
    "not_a_mapping": ("- just\n- a list\n", "a msticpyconfig must be a mapping"),
    "alias_bomb": (
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
            for i in range(6)
        ),
        "alias bomb",
    ),
    "too_large": ("k: " + "x" * (1024 * 1024 + 10) + "\n", "larger than 1024 KiB"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_1_and_nothing_written(
    case: str, fleet: Path, tmp_path: Path
) -> None:
    text, expected = BAD_CONFIGS[case]
    config = tmp_path / "msticpyconfig.yaml"
    config.write_text(text, encoding="utf-8")
    before = _digest(fleet.parent)
    res = _import(
        "-c", str(config), "-t", "lab", "-i", str(fleet), "-s", str(fleet.parent / "s"), *PLACE
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert _digest(fleet.parent) == before


def test_config_with_a_key_the_tool_owns_in_conflict_is_refused_with_its_line(
    fleet: Path,
) -> None:
    res = _import(
        "-c", str(CONFIGS / "keyvault_refs.yaml"), "-t", "lab", "-i", str(fleet),
        "-s", str(fleet.parent / "s"), "--ml-workspace", "mlw-lab", "--user", "ana",
        "--key-vault", "kv-other-nb",
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip() == (
        f"error: {CONFIGS / 'keyvault_refs.yaml'}:14: KeyVault.VaultName: the config has "
        "'myvault', the tenant's key_vault gives 'kv-other-nb'; the tool writes this setting "
        "from the tenant, so they must agree (drop or change the flag)"
    )
    assert fleet.read_text(encoding="utf-8") == BASE_INVENTORY
    assert not (fleet.parent / "s").exists()
