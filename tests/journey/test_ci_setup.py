"""`ci-setup -t TENANT`: the az and gh commands a tenant needs for the workflows, checked against
what the workflows themselves expect (parsed from .github/workflows/*.yml), and `--apply`
running them through stand-in `az` and `gh` executables that record their argv and stdin.

Federated credential subjects follow GitHub's documented form for an environment,
`repo:OWNER/NAME:environment:ENV` (GitHub docs, "About security hardening with OpenID Connect");
the issuer and audience are the ones azure/login's federated credentials use (Microsoft Learn,
"Configure a federated identity credential", and Azure/login's README).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import EXAMPLE, REPO, run_console

WORKFLOWS = REPO / ".github" / "workflows"
OWNER_NAME = "acme/soc-notebooks"


def ci_setup(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> Any:
    return run_console("ci-setup", *args, cwd=cwd, env=env, timeout=120)


def workflow_jobs() -> list[dict[str, Any]]:
    jobs = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        jobs += list((doc.get("jobs") or {}).values())
    return jobs


def expected(tenant: str) -> dict[str, dict[str, set[str]]]:
    """environment -> {'vars': ..., 'secrets': ...} as the workflows' tenant jobs use them."""
    out: dict[str, dict[str, set[str]]] = {}
    for job in workflow_jobs():
        env = job.get("environment")
        if not env:
            continue
        name = re.sub(r"\$\{\{\s*matrix\.tenant\s*\}\}", tenant, str(env))
        text = json.dumps(job.get("steps"))
        got = out.setdefault(name, {"vars": set(), "secrets": set()})
        got["vars"] |= set(re.findall(r"vars\.([A-Z_]+)", text))
        got["secrets"] |= set(re.findall(r"secrets\.([A-Z_]+)", text))
    return out


def repository_vars() -> set[str]:
    """The repository variables the workflows' jobs are switched on by (job-level `if:`)."""
    return {
        v for job in workflow_jobs() for v in re.findall(r"vars\.([A-Z_]+)", str(job.get("if")))
    }


@pytest.fixture(scope="module")
def printed() -> list[str]:
    res = ci_setup("-t", "contoso", "-i", str(EXAMPLE), "--repo", OWNER_NAME)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_every_environment_the_workflows_use_gets_an_identity_and_its_subject(
    printed: list[str],
) -> None:
    envs = expected("contoso")
    assert set(envs) == {"contoso", "contoso-plan", "contoso-drift"}
    for env in envs:
        assert f"gh api --method PUT repos/{OWNER_NAME}/environments/{env}" in "\n".join(printed)
        fed = [x for x in printed if "federated-credential create" in x and f"github-{env} " in x]
        assert len(fed) == 1, env
        assert f"--subject repo:{OWNER_NAME}:environment:{env} " in fed[0]
        assert "--issuer https://token.actions.githubusercontent.com" in fed[0]
        # the audience the workflows' azure/login asks for in the global cloud
        assert fed[0].endswith("--audiences api://AzureADTokenExchange")


def test_every_variable_and_secret_the_workflows_read_is_set_in_its_environment(
    printed: list[str],
) -> None:
    for env, uses in expected("contoso").items():
        set_vars = {
            m[1] for x in printed if (m := re.match(rf"gh variable set (\w+) --env {env} ", x))
        }
        assert uses["vars"] <= set_vars, env
        set_secrets = {
            m[1] for x in printed if (m := re.match(rf"gh secret set (\w+) --env {env} ", x))
        }
        # the workflow passes every name any tenant may need; contoso sets the ones it uses
        assert set_secrets <= uses["secrets"], env
        if not uses["secrets"]:
            assert set_secrets == set(), f"{env} holds no secret"
        else:
            assert set_secrets == {
                "VT_KEY",
                "OTX_KEY",
                "XFORCE_ID",
                "XFORCE_KEY",
                "GREYNOISE_KEY",
                "MAXMIND_KEY",
            }
    repo_vars = {m[1] for x in printed if (m := re.match(r"gh variable set (\w+) --repo ", x))}
    # the switches of onboard.yml and drift.yml are set; drift-pr.yml's tenant list is an opt-in
    # the output names
    opt_in = {"DRIFT_PR_TENANTS"}
    assert repository_vars() - opt_in == {"ONBOARD_ENABLED", "DRIFT_ENABLED"} == repo_vars
    assert any("DRIFT_PR_TENANTS" in x for x in printed if x.startswith("# then:"))


def test_roles_follow_the_docs(printed: list[str]) -> None:
    def roles(who: str) -> set[str]:
        return {
            m[1].strip("'")
            for x in printed
            if f'"${who}_PRINCIPAL_ID"' in x and (m := re.search(r"--role ('[^']+'|\S+)", x))
        }

    assert roles("PLAN") == {"Reader", "Key Vault Reader"}  # no secret value, no file
    assert roles("DRIFT") == {
        "Reader",
        "Key Vault Secrets User",
        "Storage File Data Privileged Reader",
    }
    assert roles("APPLY") == {
        "Reader",
        "Key Vault Secrets Officer",
        "Storage File Data Privileged Contributor",
    }
    # both Log Analytics workspaces, each in its own resource group
    assert sum("law-contoso-dev" in x for x in printed) == 3


STUB = """#!{python}
import json, os, sys
data = sys.stdin.read() if not sys.stdin.isatty() else ""
argv = [os.path.basename(sys.argv[0])] + sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as fh:
    fh.write(json.dumps({{"argv": argv, "stdin": data}}) + "\\n")
fail = os.environ.get("STUB_FAIL")
if fail and fail in " ".join(sys.argv):
    print("ERROR: (AuthorizationFailed) the client has no authorization", file=sys.stderr)
    sys.exit(3)
if "--query" in argv:
    name = argv[argv.index("--name") + 1] if "--name" in argv else "ws"
    print(argv[argv.index("--query") + 1] + "-of-" + name)
"""


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("az", "gh"):
        exe = bin_dir / name
        exe.write_text(STUB.format(python=sys.executable), encoding="utf-8")
        exe.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STUB_LOG": str(tmp_path / "log")}


def recorded(env: dict[str, str]) -> list[dict[str, Any]]:
    log = Path(env["STUB_LOG"])
    if not log.exists():
        return []
    return [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]


def test_apply_runs_the_printed_commands_with_argv_and_secrets_on_stdin(
    printed: list[str], stubs: dict[str, str]
) -> None:
    res = ci_setup("-t", "contoso", "-i", str(EXAMPLE), "--repo", OWNER_NAME, "--apply", env=stubs)
    assert res.returncode == 0, res.stderr
    calls = recorded(stubs)
    commands = [x for x in printed if x and not x.startswith("#")]
    assert len(calls) == len(commands)
    # an earlier command's output reaches the later ones (no shell did it)
    role = next(c["argv"] for c in calls if c["argv"][:3] == ["az", "role", "assignment"])
    assert role[role.index("--assignee-object-id") + 1] == (
        "principalId-of-id-msticpy-provision-contoso-plan"
    )
    drift_client = next(
        c["argv"] for c in calls if c["argv"][3:6] == ["AZURE_CLIENT_ID", "--env", "contoso-drift"]
    )
    assert drift_client[-1] == "clientId-of-id-msticpy-provision-contoso-drift"
    storage = [c["argv"] for c in calls if "Storage File Data Privileged Reader" in c["argv"]]
    assert storage[0][-1] == "properties.storageAccount-of-ws"
    # secret values: on stdin, never on a command line nor in the output
    secrets_dir = EXAMPLE.parent / "secrets"
    vt = (secrets_dir / "contoso-virustotal.txt").read_text(encoding="utf-8").strip()
    sets = [c for c in calls if c["argv"][:3] == ["gh", "secret", "set"]]
    assert len(sets) == 12  # six names, two environments
    assert {c["stdin"] for c in sets if c["argv"][3] == "VT_KEY"} == {vt}
    for f in secrets_dir.glob("contoso-*.txt"):
        value = f.read_text(encoding="utf-8").strip()
        assert all(value not in " ".join(c["argv"]) for c in calls)
        assert value not in res.stdout + res.stderr


def test_apply_stops_at_the_first_failure_with_one_line(stubs: dict[str, str]) -> None:
    env = {**stubs, "STUB_FAIL": "Key Vault Reader"}
    res = ci_setup("-t", "contoso", "-i", str(EXAMPLE), "--repo", OWNER_NAME, "--apply", env=env)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: az role ... failed (exit 3): ERROR: (AuthorizationFailed) the client has no "
        "authorization"
    ]
    assert not [c for c in recorded(stubs) if c["argv"][0] == "gh"]


def test_apply_checks_every_secret_source_before_running_anything(
    tmp_path: Path, stubs: dict[str, str]
) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLE.parent, fleet)
    (fleet / "secrets" / "contoso-otx.txt").unlink()
    res = ci_setup(
        "-t",
        "contoso",
        "-i",
        str(fleet / "inventory.yaml"),
        "--repo",
        OWNER_NAME,
        "--apply",
        env=stubs,
    )
    assert res.returncode == 1
    assert "contoso-otx.txt" in res.stderr and "Traceback" not in res.stderr
    assert recorded(stubs) == []


def test_apply_needs_a_repository(tmp_path: Path, stubs: dict[str, str]) -> None:
    shutil.copytree(EXAMPLE.parent, tmp_path / "fleet")
    res = ci_setup(
        "-t", "contoso", "-i", "fleet/inventory.yaml", "--apply", cwd=tmp_path, env=stubs
    )
    assert res.returncode == 1
    assert res.stderr.strip() == "error: ci-setup --apply needs --repo OWNER/NAME"
