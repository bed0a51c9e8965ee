"""The security invariants of our GitHub Actions workflows, as a checker that returns problems.

`workflow_problems(doc)` takes a workflow as loaded by `yaml.safe_load` and returns one line per
broken rule (empty when the workflow is sound). The tests run it on the real workflows and on
deliberately broken copies, which proves that each rule can fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
DOCKER_DIGEST = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
TENANT_EXPR = re.compile(r"\$\{\{\s*matrix\.tenant\s*\}\}")
SECRET_EXPR = re.compile(r"^\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
TOJSON_SECRETS = re.compile(r"tojson\s*\(\s*secrets\s*\)", re.IGNORECASE)
XTRACE = re.compile(r"(^|[\s;&|])(set\s+-[a-wyz]*x|set\s+-o\s+xtrace|bash\s+-[a-z]*x)", re.M)
# A value that differs between runs: a group containing one is not "one apply per tenant".
PER_RUN = re.compile(r"github\.(run_id|run_number|run_attempt|sha|event)")
TENANT_JOB_PERMISSIONS = {"id-token": "write", "contents": "read"}
MINIMAL_TOP_PERMISSIONS: tuple[dict[str, str], ...] = ({}, {"contents": "read"})


def load_workflow(path: Path) -> dict[str, Any]:
    """Load a workflow; YAML 1.1 reads the key `on` as True, so put it back under "on"."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a mapping")
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def workflow_problems(doc: Mapping[str, Any]) -> list[str]:
    """Every broken invariant of one workflow, one line each."""
    problems: list[str] = []
    if "permissions" not in doc:
        problems.append("top-level permissions missing (default token permissions apply)")
    elif doc["permissions"] not in MINIMAL_TOP_PERMISSIONS:
        problems.append(
            f"top-level permissions {doc['permissions']!r} are not minimal "
            "(expected {} or {contents: read}; grant more per job)"
        )
    if TOJSON_SECRETS.search(json.dumps(doc, default=str)):
        problems.append("toJSON(secrets) exposes every secret to the job")
    problems.extend(_secrets_outside_step_env("workflow env", doc.get("env")))

    jobs: Mapping[str, Any] = doc.get("jobs") or {}
    secret_lists: dict[str, set[str]] = {}
    for job_id, job in jobs.items():
        where = f"job {job_id}"
        if "timeout-minutes" not in job:
            problems.append(f"{where}: no timeout-minutes")
        problems.extend(_secrets_outside_step_env(f"{where} env", job.get("env")))
        problems.extend(_permission_problems(where, job))
        if is_tenant_job(job):
            problems.extend(_tenant_job_problems(where, job))
        if _runs_for_pull_requests(job):
            problems.extend(_pull_request_problems(where, job))
        for index, step in enumerate(job.get("steps") or []):
            problems.extend(_step_problems(f"{where} step {index + 1}", step))
            run = str(step.get("run", ""))
            if re.search(r"\binvoke\s+(plan|apply)\b", run) and NO_VALUES not in run:
                secret_lists[f"{job_id} step {index + 1}"] = set(_secret_env(step))
    problems.extend(_pr_writer_problems(doc))
    triggers = doc.get("on") or {}
    if isinstance(triggers, dict) and "schedule" in triggers:
        # A scheduled run has no reviewer: it may read (drift checks), never write.
        problems.extend(
            f"job {job_id}: a scheduled workflow runs invoke apply"
            for job_id, job in jobs.items()
            if is_apply_job(job)
        )
    if len({frozenset(s) for s in secret_lists.values()}) > 1:
        detail = "; ".join(f"{k}: {sorted(v)}" for k, v in secret_lists.items())
        problems.append(f"plan and apply steps export different secret names ({detail})")
    return problems


NO_VALUES = "--no-secret-values"


def _runs_for_pull_requests(job: Mapping[str, Any]) -> bool:
    return "pull_request" in str(job.get("if", "")) and "!= 'pull_request'" not in str(
        job.get("if", "")
    )


def _pull_request_problems(where: str, job: Mapping[str, Any]) -> Iterator[str]:
    """A pull request runs its branch's own workflow file: its jobs hold no secret, and their
    plan reads no secret value (docs/safety.md)."""
    if "secrets." in json.dumps(job, default=str):
        yield f"{where}: runs for pull requests and references a secret"
    for step in job.get("steps") or []:
        run = str(step.get("run", ""))
        if re.search(r"\binvoke\s+plan\b", run) and NO_VALUES not in run:
            yield f"{where}: runs for pull requests and plans without {NO_VALUES}"


def is_tenant_job(job: Mapping[str, Any]) -> bool:
    """A job that runs per tenant: its matrix comes from fromJSON, or it signs in to Azure (the
    tool's `--auth github-oidc` set for the job, or an azure/login step)."""
    matrix = (job.get("strategy") or {}).get("matrix")
    if isinstance(matrix, str) and "fromjson(" in matrix.lower():
        return True
    if "MSTICPY_PROVISION_AUTH" in (job.get("env") or {}):
        return True
    return any(
        str(s.get("uses", "")).lower().startswith("azure/login@") for s in job.get("steps") or []
    )


def is_apply_job(job: Mapping[str, Any]) -> bool:
    return any(
        re.search(r"\binvoke\s+apply\b", str(s.get("run", ""))) for s in job.get("steps") or []
    )


def _permission_problems(where: str, job: Mapping[str, Any]) -> Iterator[str]:
    perms = job.get("permissions")
    if perms is None:
        return
    if not isinstance(perms, dict):
        yield f"{where}: permissions {perms!r} (use an explicit mapping)"
        return
    if perms == PR_WRITER_PERMISSIONS:
        return  # the pull-request writer's rules: _pr_writer_problems
    for scope, level in perms.items():
        if level == "write" and not (scope == "id-token" and is_tenant_job(job)):
            yield f"{where}: permissions grant {scope}: write"


# A job that pushes a branch and opens a pull request (drift-pr.yml) may write exactly these,
# and only while it holds no secret, no Azure identity and no tenant environment, runs no
# Azure-facing task, and its workflow never runs for a pull request's code.
PR_WRITER_PERMISSIONS = {"contents": "write", "pull-requests": "write"}
UNTRUSTED_TRIGGERS = ("pull_request", "pull_request_target", "workflow_run")
AZURE_TASKS = re.compile(r"\binvoke\s+(plan|apply|onboard|verify|discover|import|create-compute)\b")


def _pr_writer_problems(doc: Mapping[str, Any]) -> Iterator[str]:
    triggers = doc.get("on") or {}
    names = set(triggers) if isinstance(triggers, dict) else set(str(triggers).split())
    for job_id, job in (doc.get("jobs") or {}).items():
        if job.get("permissions") != PR_WRITER_PERMISSIONS:
            continue
        where = f"job {job_id} (contents and pull-requests write)"
        if names & set(UNTRUSTED_TRIGGERS):
            yield f"{where}: the workflow runs for {sorted(names & set(UNTRUSTED_TRIGGERS))}"
        if "secrets." in json.dumps(job, default=str):
            yield f"{where}: references a secret"
        if is_tenant_job(job) or job.get("environment"):
            yield f"{where}: holds an Azure identity or a tenant environment"
        for step in job.get("steps") or []:
            if AZURE_TASKS.search(str(step.get("run", ""))):
                yield f"{where}: runs a task that talks to Azure"


def _tenant_job_problems(where: str, job: Mapping[str, Any]) -> Iterator[str]:
    env = job.get("environment")
    name = env.get("name") if isinstance(env, dict) else env
    if not isinstance(name, str) or not TENANT_EXPR.search(name):
        yield f"{where}: tenant job without an environment named after ${{{{ matrix.tenant }}}}"
    if job.get("permissions") != TENANT_JOB_PERMISSIONS:
        yield (
            f"{where}: tenant job permissions {job.get('permissions')!r} are not exactly "
            "{id-token: write, contents: read}"
        )
    yield from _sign_in_problems(where, job)
    if is_apply_job(job):
        conc = job.get("concurrency")
        if not isinstance(conc, dict):
            yield f"{where}: apply job without a concurrency group per tenant"
            return
        group = str(conc.get("group", ""))
        if not TENANT_EXPR.search(group) or PER_RUN.search(group):
            yield f"{where}: apply concurrency group {group!r} is not one group per tenant"
        if conc.get("cancel-in-progress") is not False:
            yield f"{where}: apply concurrency must set cancel-in-progress: false"


def _sign_in_problems(where: str, job: Mapping[str, Any]) -> Iterator[str]:
    """A tenant job signs in with the job's own OIDC token (`--auth github-oidc`, set for the
    job) as the environment's identity, or through an azure/login step (whose audience rule is
    checked with the step)."""
    if any(str(s.get("uses", "")).lower().startswith("azure/login@") for s in job["steps"]):
        return
    env = job.get("env") or {}
    if env.get("MSTICPY_PROVISION_AUTH") != "github-oidc":
        yield f"{where}: tenant job without MSTICPY_PROVISION_AUTH: github-oidc (or azure/login)"
    if "vars.AZURE_CLIENT_ID" not in str(env.get("AZURE_CLIENT_ID", "")):
        yield f"{where}: tenant job without AZURE_CLIENT_ID from the environment's variables"


def _step_problems(where: str, step: Mapping[str, Any]) -> Iterator[str]:
    uses = step.get("uses")
    if uses is not None:
        uses = str(uses)
        if not (uses.startswith("./") or SHA_PIN.match(uses) or DOCKER_DIGEST.match(uses)):
            yield f"{where}: {uses} is not pinned to a full commit SHA"
        with_ = step.get("with") or {}
        if (
            uses.lower().startswith("actions/checkout@")
            and with_.get("persist-credentials") is not False
        ):
            yield f"{where}: checkout without persist-credentials: false"
        if uses.lower().startswith("azure/login@"):
            yield from _audience_problems(where, with_)
        yield from _secrets_outside_step_env(f"{where} with", step.get("with"))
    yield from _step_env_problems(where, step)
    run = step.get("run")
    if run is None:
        return
    run = str(run)
    if "${{" in run:
        yield f"{where}: ${{{{ }}}} expression inside run: (pass it through env:)"
    if XTRACE.search(run):
        yield f"{where}: shell tracing (set -x) would print secret values"
    for name in _secret_env(step):
        if re.search(rf"\b(echo|printf)\b[^\n]*\$\{{?{name}\b", run):
            yield f"{where}: prints the secret in ${name}"


def _secret_env(step: Mapping[str, Any]) -> list[str]:
    """Names of the step's env entries that carry a secret; each must be NAME: secrets.NAME."""
    return [k for k, v in (step.get("env") or {}).items() if "secrets." in str(v)]


def _step_env_problems(where: str, step: Mapping[str, Any]) -> Iterator[str]:
    """The docs' convention: the inventory's env:NAME is the environment secret NAME."""
    env = step.get("env") or {}
    for name in _secret_env(step):
        m = SECRET_EXPR.match(str(env[name]).strip())
        if not m or m.group(1) != name:
            yield f"{where}: env {name}: {env[name]} (expected ${{{{ secrets.{name} }}}})"


def _secrets_outside_step_env(where: str, mapping: Any) -> Iterator[str]:
    """Secrets belong in the env of the one step that needs them, not in wider scopes."""
    for key, value in (mapping or {}).items():
        if "secrets." in str(value):
            yield f"{where}: {key} takes a secret outside a step's env"


USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")


def pin_comment_problems(text: str) -> list[str]:
    """Each SHA pin carries the release it stands for (`# v1.2.3`), so humans can review it."""
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = USES_LINE.match(line)
        if m and "@" in m["ref"] and not re.search(r"#\s*v\d+\.\d+\.\d+\b", m["rest"]):
            out.append(f"line {number}: {m['ref']} has no '# vX.Y.Z' comment naming its release")
    return out


# azure/login's `audience` input (default api://AzureADTokenExchange) must follow the cloud: Entra
# ID in Azure Government and Azure China federates GitHub's token for its own audience
# (Microsoft Learn, "Configure a federated identity credential": issuer and audience per cloud).
SOVEREIGN_AUDIENCES = ("api://AzureADTokenExchangeUSGov", "api://AzureADTokenExchangeChina")


def _audience_problems(where: str, with_: Mapping[str, Any]) -> Iterator[str]:
    audience = str(with_.get("audience", ""))
    missing = [a for a in SOVEREIGN_AUDIENCES if a not in audience]
    if missing or "vars.AZURE_CLOUD" not in audience:
        yield (
            f"{where}: azure/login without an audience driven by vars.AZURE_CLOUD "
            f"(missing {', '.join(missing) or 'the AZURE_CLOUD condition'})"
        )
