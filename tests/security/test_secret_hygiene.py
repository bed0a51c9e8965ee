"""No secret value ever leaves Key Vault's request bodies: not stdout, stderr, debug logs, the JSON
report, the GitHub step summary, rendered files or error messages, also when a push fails midway.

Runs the tool as an admin or CI would (`invoke ... --json` subprocesses with
MSTICPY_PROVISION_LOG=debug and $GITHUB_STEP_SUMMARY set) against an in-process emulator, with
distinctive secret values, and searches every output for each value in the forms a leak takes:
as is, base64 (standard and URL-safe), repr, JSON- and URL-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import urllib.parse
from pathlib import Path

import pytest
from reliability_helpers import Reader  # tests/reliability (conftest.py)
from support import run_invoke

from provision.devtools.fleet import Fleet, write_fleet
from provision.emulator import Emulator
from provision.emulator.seed import seed_tenants_from_inventory
from provision.inventory.load import load_inventory
from provision.inventory.model import Tenant


def leak_forms(value: str) -> dict[str, str]:
    raw = value.encode()
    return {
        "raw": value,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "repr": repr(value),
        "json": json.dumps(value),
        "url": urllib.parse.quote(value, safe=""),
        "tail": value[-16:],  # the value's random part, whatever surrounds it
    }


def find_leaks(fleet: Fleet, texts: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        for value in fleet.all_secret_values():
            for form, needle in leak_forms(value).items():
                if needle in text:
                    found.append(f"{where}: {form} form of a secret value")
    return found


def _env(tmp_path: Path) -> dict[str, str]:
    summary = tmp_path / "step-summary.md"
    return {
        "MSTICPY_PROVISION_LOG": "debug",
        "GITHUB_STEP_SUMMARY": str(summary),
        "MSTICPY_PROVISION_LOCAL_DIR": str(tmp_path / "local"),
    }


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return write_fleet(tmp_path / "inv", 2, users=1)


def _outputs(tmp_path: Path, runs: dict[str, object]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, res in runs.items():
        texts[f"{name} stdout"] = res.stdout  # type: ignore[attr-defined]
        texts[f"{name} stderr"] = res.stderr  # type: ignore[attr-defined]
    summary = tmp_path / "step-summary.md"
    texts["$GITHUB_STEP_SUMMARY"] = summary.read_text() if summary.exists() else ""
    return texts


def _discover_args(t: Tenant, endpoints: str) -> list[str]:
    return ["discover", "-t", t.name, "--tenant-id", t.tenant_id, "--subscription-id",
            t.subscription_id, "--endpoints", endpoints]  # fmt: skip


@pytest.mark.slow
def test_no_secret_value_in_any_output_of_a_successful_run(tmp_path: Path, fleet: Fleet) -> None:
    inv = load_inventory(fleet.path)
    env = _env(tmp_path)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        ep = str(emu.endpoints_file)
        runs = {
            "validate": run_invoke(
                "validate", "-i", str(fleet.path), "--check-secrets", "--json", env=env
            ),
            "plan": run_invoke("plan", "-i", str(fleet.path), "--endpoints", ep, "--json", env=env),
            "apply": run_invoke(
                "apply", "-i", str(fleet.path), "--endpoints", ep, "--json", env=env
            ),
            "plan again": run_invoke(
                "plan",
                "-i",
                str(fleet.path),
                "--endpoints",
                ep,
                "--json",
                "--detailed-exitcode",
                env=env,
            ),
            "verify": run_invoke(
                "verify", "-i", str(fleet.path), "--endpoints", ep, "--json", env=env
            ),
            "onboard": run_invoke("onboard", "-i", str(fleet.path), "--endpoints", ep, env=env),
            # reads the analysts' configs back from the share (debug logging on)
            "discover": run_invoke(*_discover_args(inv.tenants[0], ep), env=env),
            "render": run_invoke(
                "render", "-i", str(fleet.path), "-o", str(tmp_path / "out"), env=env
            ),
            # the az and gh commands for CI name each secret and its source, never its value
            "ci-setup": run_invoke(
                "ci-setup",
                "-t",
                inv.tenants[0].name,
                "-i",
                str(fleet.path),
                "--repo",
                "o/r",
                env=env,
            ),
        }
        assert {k: r.returncode for k, r in runs.items()} == dict.fromkeys(runs, 0), {
            k: r.stderr[-2000:] for k, r in runs.items() if r.returncode
        }
        # The values did reach Key Vault (else the search below proves nothing).
        reader = Reader(emu.endpoints, emu.credential)
        t = inv.tenants[0]
        assert (
            reader.secret(t.key_vault, "TIProviders-OTX-Args-AuthKey")
            == fleet.secrets[t.name]["otx"]
        )
    texts = _outputs(tmp_path, runs)
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            texts[f"rendered {f.relative_to(tmp_path)}"] = f.read_text()
    assert "DEBUG" in runs["apply"].stderr, "debug logging was not on"
    assert find_leaks(fleet, texts) == []
    # The SDK's HTTP logging never logs request bodies (a Key Vault SetSecret body is
    # {"value": ...}).
    for name, res in runs.items():
        assert '"value":' not in res.stderr and "'value':" not in res.stderr, name
    assert json.loads(runs["apply"].stdout)["ok"] is True


@pytest.mark.slow
def test_no_secret_value_in_any_output_when_a_push_fails_midway(
    tmp_path: Path, fleet: Fleet
) -> None:
    inv = load_inventory(fleet.path)
    env = _env(tmp_path)
    denied = inv.tenants[1]
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        ep = str(emu.endpoints_file)
        # Every SetSecret fails for good (after the client's retries); the second tenant's ARM
        # reads are denied: one tenant fails while pushing, the other during discovery.
        emu.set_faults("keyvault:SetSecret=500@1.0")
        emu.deny(f"/subscriptions/{denied.subscription_id}")
        runs = {
            "apply": run_invoke(
                "apply", "-i", str(fleet.path), "--endpoints", ep, "--json", env=env
            ),
        }
        failed_sets = [r for r in emu.requests() if r["op"] == "SetSecret" and r.get("fault")]
    assert runs["apply"].returncode == 1
    assert failed_sets, "no push was attempted"
    report = json.loads(runs["apply"].stdout)
    errors = {t["tenant"]: t["error"] for t in report["tenants"]}
    assert "500" in (errors[inv.tenants[0].name] or ""), errors
    assert "permission denied" in (errors[denied.name] or ""), errors
    texts = _outputs(tmp_path, runs)
    assert "Traceback" in runs["apply"].stderr, "debug logging should show the failure's traceback"
    assert find_leaks(fleet, texts) == []
    for name, res in runs.items():
        assert '"value":' not in res.stderr and "'value':" not in res.stderr, name


@pytest.mark.slow
def test_no_secret_value_in_any_output_when_pushes_are_throttled(
    tmp_path: Path, fleet: Fleet
) -> None:
    """Throttled SetSecrets (429, retried with their bodies) leave no value in debug logs."""
    env = _env(tmp_path)
    with Emulator(tmp_path / "emu", throttle="keyvault-create=1/10") as emu:
        emu.seed(seed_tenants_from_inventory(load_inventory(fleet.path)))
        ep = str(emu.endpoints_file)
        runs = {
            "apply": run_invoke(
                "apply", "-i", str(fleet.path), "--endpoints", ep, "--json", env=env
            ),
        }
        throttled = [r for r in emu.requests() if r.get("fault") == "throttle"]
    assert runs["apply"].returncode == 0, runs["apply"].stderr[-2000:]
    assert any(r["op"] == "SetSecret" for r in throttled), "no push was throttled"
    assert "DEBUG" in runs["apply"].stderr, "debug logging was not on"
    assert find_leaks(fleet, _outputs(tmp_path, runs)) == []
    assert '"value":' not in runs["apply"].stderr and "'value':" not in runs["apply"].stderr


@pytest.mark.slow  # the failing push rides out the SDK's retries
def test_no_secret_value_in_rotate_output_when_it_rotates_or_fails(
    tmp_path: Path, fleet: Fleet
) -> None:
    """rotate prints sources, vaults and secret names: neither the old value nor the new one,
    when it rotates, when nothing is left to do, and when a push fails."""
    inv = load_inventory(fleet.path)
    env = _env(tmp_path)
    t = inv.tenants[0]
    source = f"file:secrets/{t.name}-otx.txt"
    rotated_value = "S3cr3t-rotated-otx-key-7f3a9c1e5b2d4068"
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        ep = str(emu.endpoints_file)
        base = ("-i", str(fleet.path), "--endpoints", ep, "--source", source)
        applied = run_invoke("apply", "-i", str(fleet.path), "--endpoints", ep, env=env)
        assert applied.returncode == 0, applied.stderr[-2000:]
        (fleet.folder / source.removeprefix("file:")).write_text(rotated_value + "\n")
        fleet.secrets[t.name]["otx rotated"] = rotated_value
        runs = {
            "rotate --json": run_invoke("rotate", *base, "--json", env=env),
            "rotate again": run_invoke("rotate", *base, env=env),
        }
        (fleet.folder / source.removeprefix("file:")).write_text(rotated_value + "-2\n")
        fleet.secrets[t.name]["otx rotated twice"] = rotated_value + "-2"
        emu.set_faults("keyvault:SetSecret=500@1.0")
        runs["rotate failing"] = run_invoke("rotate", *base, env=env)
        reader = Reader(emu.endpoints, emu.credential)
        assert reader.secret(t.key_vault, "TIProviders-OTX-Args-AuthKey") == rotated_value
    assert [r.returncode for r in runs.values()] == [0, 0, 1], {
        k: r.stdout[-1000:] + r.stderr[-2000:] for k, r in runs.items()
    }
    assert json.loads(runs["rotate --json"].stdout)["tenants"][0]["status"] == "rotated"
    assert "nothing to do" in runs["rotate again"].stdout
    assert "500" in runs["rotate failing"].stdout
    assert "DEBUG" in runs["rotate failing"].stderr, "debug logging was not on"
    assert find_leaks(fleet, _outputs(tmp_path, runs)) == []
    for name, res in runs.items():
        assert '"value":' not in res.stderr and "'value':" not in res.stderr, name


def test_rendered_files_are_private(tmp_path: Path, fleet: Fleet) -> None:
    out = tmp_path / "out"
    res = run_invoke("render", "-i", str(fleet.path), "-o", str(out))
    assert res.returncode == 0, res.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 2 * 3  # msticpyconfig.yaml, config.json, one user's startup script
    for p in files:  # each names the tenant's vault and secret settings
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, f"{p}: {oct(p.stat().st_mode)}"


def test_local_emulator_state_holding_secret_values_is_private(
    tmp_path: Path, fleet: Fleet
) -> None:
    """`--local` keeps the emulator's world, pushed secret values included, in
    MSTICPY_PROVISION_LOCAL_DIR (state.json), with its token and storage keys (endpoints.json)."""
    env = _env(tmp_path)
    res = run_invoke("apply", "-i", str(fleet.path), "--local", env=env)
    assert res.returncode == 0, res.stderr
    local = tmp_path / "local"
    holders = []
    for p in local.rglob("*"):
        if p.is_file() and find_leaks(fleet, {p.name: p.read_text(errors="replace")}):
            holders.append(p)
    assert holders, "the local state should hold the pushed values (else this test is moot)"
    problems = [
        f"{p.relative_to(tmp_path)}: {oct(stat.S_IMODE(p.stat().st_mode))}"
        for p in [local, *local.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) & 0o077
        and (p.is_dir() or p in holders or p.name == "endpoints.json")
    ]
    assert problems == []


def test_secret_values_do_not_print_themselves() -> None:
    from provision.secrets import SecretValue

    v = SecretValue("S3cr3t-do-not-print")
    assert "S3cr3t" not in repr(v) + str(v) + f"{v}" + repr([v]) + repr({"k": v})


@pytest.mark.slow
def test_no_secret_value_in_any_output_when_azure_policy_refuses(
    tmp_path: Path, fleet: Fleet
) -> None:
    """The policy preflight's findings and a policy's 403 (provision.policy) carry secret names,
    never values: one tenant's Deny is read by plan (findings, apply stops), the other's cannot
    be read (a note), so its writes meet Key Vault's 403 naming the assignment."""
    from provision.emulator.seed import SeedPolicy

    inv = load_inventory(fleet.path)
    env = _env(tmp_path)
    seeds = seed_tenants_from_inventory(inv)
    for seed in seeds:
        seed.policies.append(SeedPolicy("secrets-expire", "98728c90-32c7-4049-8429-847dc0f4fe37"))
    unread = inv.tenants[1]
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seeds)
        ep = str(emu.endpoints_file)
        emu.deny(
            f"/subscriptions/{unread.subscription_id}/resourceGroups/{unread.resource_group}"
            "/providers/Microsoft.Authorization/policyAssignments"
        )
        runs = {
            name: run_invoke(task, "-i", str(fleet.path), "--endpoints", ep, "--json", env=env)
            for name, task in (("plan", "plan"), ("apply", "apply"))
        }
    errors = {t["tenant"]: t["error"] for t in json.loads(runs["apply"].stdout)["tenants"]}
    assert "secrets-expire" in (errors[inv.tenants[0].name] or ""), errors
    assert "refused by Azure Policy" in (errors[unread.name] or ""), errors
    assert json.loads(runs["plan"].stdout)["tenants"][0]["policy"], "no finding to search"
    assert find_leaks(fleet, _outputs(tmp_path, runs)) == []


def digest_forms(value: str) -> dict[str, str]:
    """Unkeyed digests of a value: anyone holding a file with one could test guesses against it."""
    raw = value.encode()
    return {name: getattr(hashlib, name)(raw).hexdigest() for name in ("md5", "sha1", "sha256")} | {
        "sha256 base64": base64.b64encode(hashlib.sha256(raw).digest()).decode()
    }


def test_a_saved_plan_holds_no_secret_value_nor_a_digest_of_one(
    tmp_path: Path, fleet: Fleet
) -> None:
    env = {**_env(tmp_path), "MSTICPY_PROVISION_PLAN_KEY": str(tmp_path / "key" / "plan.key")}
    inv = load_inventory(fleet.path)
    with Emulator(tmp_path / "emu") as emu:
        emu.seed(seed_tenants_from_inventory(inv))
        ep = str(emu.endpoints_file)
        first, again = tmp_path / "first.plan", tmp_path / "again.plan"
        runs = {
            "plan --out": run_invoke(
                "plan", "-i", str(fleet.path), "-e", ep, "--out", str(first), env=env
            ),
            "apply --plan": run_invoke(
                "apply", "-i", str(fleet.path), "-e", ep, "--plan", str(first), "--json", env=env
            ),
            # the vault now holds every value: the second plan reads them all and finds them equal
            "plan --out again": run_invoke(
                "plan", "-i", str(fleet.path), "-e", ep, "--out", str(again), env=env
            ),
        }
        assert {k: r.returncode for k, r in runs.items()} == dict.fromkeys(runs, 0), {
            k: r.stderr[-2000:] for k, r in runs.items() if r.returncode
        }
    texts = _outputs(tmp_path, runs)
    texts |= {"saved plan": first.read_text(), "saved plan again": again.read_text()}
    assert find_leaks(fleet, texts) == []
    key = (tmp_path / "key" / "plan.key").read_text().strip()
    for where, text in texts.items():
        assert key not in text, where
        for value in fleet.all_secret_values():
            for form, needle in digest_forms(value).items():
                assert needle not in text, f"{where}: {form} of a secret value"
