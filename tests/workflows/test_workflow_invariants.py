"""The workflows keep their security invariants, and the checker can tell when they do not."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import REPO
from workflow_rules import (
    is_apply_job,
    is_tenant_job,
    load_workflow,
    pin_comment_problems,
    workflow_problems,
)

WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
ONBOARD = WORKFLOWS / "onboard.yml"
DRIFT = WORKFLOWS / "drift.yml"


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_keeps_its_invariants(path: Path) -> None:
    assert workflow_problems(load_workflow(path)) == []


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_pin_names_its_release(path: Path) -> None:
    assert pin_comment_problems(path.read_text(encoding="utf-8")) == []


def test_on_key_survives_yaml_1_1() -> None:
    doc: dict[Any, Any] = load_workflow(ONBOARD)
    assert True not in doc
    assert set(doc["on"]) == {"pull_request", "push", "workflow_dispatch"}


def test_onboard_plans_on_pull_requests_and_applies_on_main() -> None:
    doc = load_workflow(ONBOARD)
    jobs = doc["jobs"]
    tenant_jobs = {name for name, job in jobs.items() if is_tenant_job(job)}
    assert tenant_jobs == {"plan", "apply"}
    assert is_apply_job(jobs["apply"]) and not is_apply_job(jobs["plan"])
    assert jobs["plan"]["environment"] == "${{ matrix.tenant }}-plan"
    assert jobs["apply"]["environment"] == "${{ matrix.tenant }}"
    assert jobs["apply"]["concurrency"] == {
        "group": "onboard-${{ matrix.tenant }}",
        "cancel-in-progress": False,
    }
    for name in ("plan", "apply"):
        assert jobs[name]["needs"] == "matrix"
        assert "fromJSON(needs.matrix.outputs.matrix)" in jobs[name]["strategy"]["matrix"]
        assert "needs.matrix.outputs.count != '0'" in jobs[name]["if"]
    assert (
        "pull_request" in jobs["plan"]["if"]
        and "github.ref == 'refs/heads/main'" in (jobs["apply"]["if"])
    )
    plan_run = next(s["run"] for s in jobs["plan"]["steps"] if s.get("id") == "plan")
    assert "--detailed-exitcode" in plan_run and "|| status=$?" in plan_run
    # a pull request's plan holds no secret and reads no secret value (docs/safety.md)
    assert "--no-secret-values" in plan_run
    assert "secrets." not in json.dumps(jobs["plan"])
    assert doc["env"]["INVENTORY"] == "inventory.yaml"
    # --changed-since needs the history of the base commit.
    checkout = jobs["matrix"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0


def test_ci_tests_three_pythons_and_lints_the_workflows() -> None:
    doc = load_workflow(CI)
    assert set(doc["on"]) == {"pull_request", "push"}
    assert doc["concurrency"]["cancel-in-progress"] is True
    test = doc["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12"]
    assert any(s.get("run") == "bash .ci/run" for s in test["steps"])
    lint_runs = " ".join(str(s.get("run", "")) for s in doc["jobs"]["lint-workflows"]["steps"])
    assert "actionlint" in lint_runs and "zizmor" in lint_runs


# --- the checker catches each kind of breakage ----------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _step(doc: dict[str, Any], job: str, pattern: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = doc["jobs"][job]["steps"]
    return next(s for s in steps if re.search(pattern, str(s.get("run", s.get("uses", "")))))


def _unpin(doc: dict[str, Any]) -> None:
    _step(doc, "apply", "checkout")["uses"] = "actions/checkout@v7"


def _short_sha(doc: dict[str, Any]) -> None:
    _step(doc, "plan", "setup-python")["uses"] = "actions/setup-python@5fda3b9"


def _contents_write(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["permissions"]["contents"] = "write"


def _extra_permission(doc: dict[str, Any]) -> None:
    doc["jobs"]["plan"]["permissions"]["pull-requests"] = "write"


def _id_token_elsewhere(doc: dict[str, Any]) -> None:
    doc["jobs"]["validate"]["permissions"]["id-token"] = "write"


def _top_write_all(doc: dict[str, Any]) -> None:
    doc["permissions"] = "write-all"


def _top_missing(doc: dict[str, Any]) -> None:
    del doc["permissions"]


def _drop_timeout(doc: dict[str, Any]) -> None:
    del doc["jobs"]["matrix"]["timeout-minutes"]


def _apply_cancels(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["concurrency"]["cancel-in-progress"] = True


def _apply_group_per_run(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["concurrency"]["group"] = "onboard-${{ matrix.tenant }}-${{ github.sha }}"


def _apply_group_fleet(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["concurrency"]["group"] = "onboard-apply"


def _apply_no_concurrency(doc: dict[str, Any]) -> None:
    del doc["jobs"]["apply"]["concurrency"]


def _no_environment(doc: dict[str, Any]) -> None:
    del doc["jobs"]["plan"]["environment"]


def _fixed_environment(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["environment"] = "production"


def _expression_in_run(doc: dict[str, Any]) -> None:
    step = _step(doc, "apply", r"invoke apply")
    step["run"] = 'invoke apply -i "$INVENTORY" -t ${{ matrix.tenant }}'


def _tojson_secrets(doc: dict[str, Any]) -> None:
    _step(doc, "apply", r"invoke apply")["env"]["ALL_SECRETS"] = "${{ toJSON(secrets) }}"


def _set_x(doc: dict[str, Any]) -> None:
    step = _step(doc, "plan", r"invoke plan")
    step["run"] = "set -x\n" + step["run"]


def _echo_secret(doc: dict[str, Any]) -> None:
    step = _step(doc, "apply", r"invoke apply")
    step["run"] = 'echo "key is $VT_KEY"\n' + step["run"]


def _secret_in_job_env(doc: dict[str, Any]) -> None:
    doc["jobs"]["apply"]["env"] = {"VT_KEY": "${{ secrets.VT_KEY }}"}


def _secret_renamed(doc: dict[str, Any]) -> None:
    _step(doc, "apply", r"invoke apply")["env"]["VT_KEY"] = "${{ secrets.VIRUSTOTAL }}"


def _pr_plan_with_a_secret(doc: dict[str, Any]) -> None:
    _step(doc, "plan", r"invoke plan")["env"]["VT_KEY"] = "${{ secrets.VT_KEY }}"


def _pr_plan_with_values(doc: dict[str, Any]) -> None:
    step = _step(doc, "plan", r"invoke plan")
    step["run"] = step["run"].replace(" --no-secret-values", "")


def _secret_lists_differ(doc: dict[str, Any]) -> None:
    del _step(doc, "apply", r"invoke apply")["env"]["OTX_KEY"]


def _checkout_keeps_token(doc: dict[str, Any]) -> None:
    del _step(doc, "validate", "checkout")["with"]["persist-credentials"]


# an azure/login step as the workflows had it before --auth github-oidc (their audience rule)
LOGIN = {
    "name": "Azure login",
    "uses": "azure/login@f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca",
    "with": {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "audience": "${{ vars.AZURE_CLOUD == 'azureusgovernment' && "
        "'api://AzureADTokenExchangeUSGov' || vars.AZURE_CLOUD == 'azurechinacloud' && "
        "'api://AzureADTokenExchangeChina' || 'api://AzureADTokenExchange' }}",
    },
}


def _login_step(doc: dict[str, Any], job: str) -> dict[str, Any]:
    login = copy.deepcopy(LOGIN)
    doc["jobs"][job]["steps"].insert(3, login)
    return login


def _no_audience(doc: dict[str, Any]) -> None:
    del _login_step(doc, "apply")["with"]["audience"]


def _public_audience_only(doc: dict[str, Any]) -> None:
    _login_step(doc, "plan")["with"]["audience"] = "api://AzureADTokenExchange"


def _no_sign_in_mode(doc: dict[str, Any]) -> None:
    del doc["jobs"]["apply"]["env"]["MSTICPY_PROVISION_AUTH"]


def _client_id_not_from_vars(doc: dict[str, Any]) -> None:
    doc["jobs"]["plan"]["env"]["AZURE_CLIENT_ID"] = "11111111-2222-3333-4444-555555555555"


BROKEN: dict[str, tuple[Mutation, str]] = {
    "no sign-in mode": (_no_sign_in_mode, "without MSTICPY_PROVISION_AUTH: github-oidc"),
    "client id not from vars": (_client_id_not_from_vars, "without AZURE_CLIENT_ID from"),
    "login without audience": (_no_audience, "without an audience driven by vars.AZURE_CLOUD"),
    "login with the public audience only": (
        _public_audience_only,
        "missing api://AzureADTokenExchangeUSGov",
    ),
    "unpinned action": (_unpin, "not pinned to a full commit SHA"),
    "short SHA": (_short_sha, "not pinned to a full commit SHA"),
    "contents: write": (_contents_write, "contents: write"),
    "extra permission": (_extra_permission, "not exactly"),
    "id-token outside tenant jobs": (_id_token_elsewhere, "id-token: write"),
    "top-level write-all": (_top_write_all, "top-level permissions"),
    "top-level permissions missing": (_top_missing, "top-level permissions missing"),
    "no timeout": (_drop_timeout, "job matrix: no timeout-minutes"),
    "apply cancel-in-progress": (_apply_cancels, "cancel-in-progress: false"),
    "apply group per run": (_apply_group_per_run, "not one group per tenant"),
    "apply group for the fleet": (_apply_group_fleet, "not one group per tenant"),
    "apply without concurrency": (_apply_no_concurrency, "without a concurrency group"),
    "no environment": (_no_environment, "without an environment"),
    "environment not per tenant": (_fixed_environment, "without an environment"),
    "expression in run": (_expression_in_run, "expression inside run"),
    "toJSON(secrets)": (_tojson_secrets, "toJSON(secrets)"),
    "set -x": (_set_x, "set -x"),
    "echo of a secret": (_echo_secret, "prints the secret in $VT_KEY"),
    "secret in job env": (_secret_in_job_env, "outside a step's env"),
    "secret under another name": (_secret_renamed, "expected ${{ secrets.VT_KEY }}"),
    "pull-request plan holds a secret": (_pr_plan_with_a_secret, "references a secret"),
    "pull-request plan reads values": (_pr_plan_with_values, "without --no-secret-values"),
    "checkout keeps the token": (_checkout_keeps_token, "persist-credentials: false"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_checker_catches_a_broken_copy(case: str) -> None:
    mutate, expected = BROKEN[case]
    doc = copy.deepcopy(load_workflow(ONBOARD))
    assert workflow_problems(doc) == []
    mutate(doc)
    problems = workflow_problems(doc)
    assert any(expected in p for p in problems), problems


def test_checker_catches_a_pin_without_its_release_comment() -> None:
    text = ONBOARD.read_text(encoding="utf-8").replace(" # v7.0.0", "", 1)
    problems = pin_comment_problems(text)
    assert len(problems) == 1
    assert (
        "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 has no '# vX.Y.Z'"
        in problems[0]
    )


# --- drift.yml: the same checker, and what is particular to a scheduled read-only check ----------


def _drift_applies(doc: dict[str, Any]) -> None:
    step = _step(doc, "plan", r"invoke plan")
    step["run"] = step["run"].replace("invoke plan", "invoke apply")


def _drift_secret_in_job_env(doc: dict[str, Any]) -> None:
    doc["jobs"]["plan"]["env"] = {"VT_KEY": "${{ secrets.VT_KEY }}"}


def _drift_no_environment(doc: dict[str, Any]) -> None:
    del doc["jobs"]["plan"]["environment"]


def _drift_issue_write(doc: dict[str, Any]) -> None:
    doc["jobs"]["plan"]["permissions"]["issues"] = "write"


def _drift_no_timeout(doc: dict[str, Any]) -> None:
    del doc["jobs"]["plan"]["timeout-minutes"]


def _drift_unpinned(doc: dict[str, Any]) -> None:
    _step(doc, "plan", "checkout")["uses"] = "actions/checkout@v7"


def _drift_public_audience(doc: dict[str, Any]) -> None:
    _login_step(doc, "plan")["with"]["audience"] = "api://AzureADTokenExchange"


def _drift_expression_in_run(doc: dict[str, Any]) -> None:
    step = _step(doc, "select", r"invoke matrix")
    step["run"] = step["run"].replace('"$TENANT"', "${{ inputs.tenant }}", 1)


DRIFT_BROKEN: dict[str, tuple[Mutation, str]] = {
    "scheduled apply": (_drift_applies, "a scheduled workflow runs invoke apply"),
    "secret in job env": (_drift_secret_in_job_env, "outside a step's env"),
    "no environment": (_drift_no_environment, "without an environment"),
    "issues: write": (_drift_issue_write, "issues: write"),
    "no timeout": (_drift_no_timeout, "job plan: no timeout-minutes"),
    "unpinned checkout": (_drift_unpinned, "not pinned to a full commit SHA"),
    "public audience only": (_drift_public_audience, "missing api://AzureADTokenExchangeUSGov"),
    "expression in run": (_drift_expression_in_run, "expression inside run"),
}


def test_drift_keeps_the_invariants_of_every_workflow() -> None:
    assert workflow_problems(load_workflow(DRIFT)) == []
    assert pin_comment_problems(DRIFT.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("case", list(DRIFT_BROKEN), ids=list(DRIFT_BROKEN))
def test_checker_catches_a_broken_copy_of_drift(case: str) -> None:
    mutate, expected = DRIFT_BROKEN[case]
    doc = copy.deepcopy(load_workflow(DRIFT))
    mutate(doc)
    problems = workflow_problems(doc)
    assert any(expected in p for p in problems), problems
