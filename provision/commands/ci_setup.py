"""`ci-setup`: what one tenant needs before the workflows can run for it, as `az` and `gh`
commands: printed, or run with `--apply`.

Per tenant the workflows use three GitHub environments (docs/github-actions.md): `TENANT-plan`
(pull-request plans, no secrets), `TENANT-drift` (the daily drift plan) and `TENANT` (apply).
Each gets a user-assigned managed identity in the tenant's resource group with one federated
credential for that environment's subject, the roles the docs list for it, the variables
`azure/login` reads, and (drift and apply) the secrets the inventory references. A `file:`
reference becomes the environment secret the workflows pass (`CI_SECRET_NAMES`), its value read
from the file; the inventory then names it as `env:NAME` in CI.

`--apply` runs each command through subprocess with an argument list (no shell); a value one
command prints (an identity's ids, the workspace's storage account) reaches the next through a
`Var`. Secret values reach `gh secret set` on its standard input, never on a command line, and
are never printed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provision.errors import Problem, UserInputError
from provision.inventory.model import Inventory, Tenant
from provision.msticpy_contract.secret_names import SecretPush

ISSUER = "https://token.actions.githubusercontent.com"
# The OIDC audience per cloud, as the workflows' azure/login steps ask for it.
AUDIENCE = {
    "global": "api://AzureADTokenExchange",
    "usgov": "api://AzureADTokenExchangeUSGov",
    "cn": "api://AzureADTokenExchangeChina",
}
AZURE_CLOUD = {"global": "azurecloud", "usgov": "azureusgovernment", "cn": "azurechinacloud"}

# The environment secret that replaces a `file:` reference in CI: the names the workflows pass
# (onboard.yml's apply step, drift.yml's plan step). Any other setting gets a name made of its
# path (TIPROVIDERS_RISKIQ_ARGS_AUTHKEY), which the workflows must then pass too.
CI_SECRET_NAMES = {
    "TIProviders.VirusTotal.Args.AuthKey": "VT_KEY",
    "TIProviders.OTX.Args.AuthKey": "OTX_KEY",
    "TIProviders.XForce.Args.ApiID": "XFORCE_ID",
    "TIProviders.XForce.Args.AuthKey": "XFORCE_KEY",
    "TIProviders.GreyNoise.Args.AuthKey": "GREYNOISE_KEY",
    "TIProviders.AbuseIPDB.Args.AuthKey": "ABUSEIPDB_KEY",
    "OtherProviders.GeoIPLite.Args.AuthKey": "MAXMIND_KEY",
    "OtherProviders.IPStack.Args.AuthKey": "IPSTACK_KEY",
    "DataProviders.AzureCLI.Args.clientSecret": "AZCLI_CLIENT_SECRET",
}

REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class Var:
    """A value an earlier command prints (its stdout, stripped), used by later ones."""

    name: str


Arg = str | Var


@dataclass(frozen=True)
class Command:
    argv: tuple[Arg, ...]
    sets: str | None = None  # the Var this command's output becomes
    stdin_from: str | None = None  # a secret reference whose value goes to stdin
    shown_stdin: str = ""  # how the printed form feeds stdin (`< file`, `printf ... |`)


@dataclass(frozen=True)
class Environment:
    name: str  # the GitHub environment
    role: str  # plan, drift, apply
    identity: str  # the managed identity's name
    roles: tuple[tuple[str, str], ...]  # (role, scope)
    secrets: bool
    main_only: bool


@dataclass
class Setup:
    tenant: str
    repo: str
    commands: list[tuple[str, list[Command]]] = field(default_factory=list)  # (heading, cmds)
    notes: list[str] = field(default_factory=list)

    def section(self, heading: str) -> list[Command]:
        cmds: list[Command] = []
        self.commands.append((heading, cmds))
        return cmds


def cmd(
    *argv: Arg, sets: str | None = None, stdin_from: str | None = None, shown_stdin: str = ""
) -> Command:
    return Command(argv, sets, stdin_from, shown_stdin)


def ci_secret_name(p: SecretPush) -> str:
    """The environment secret of a reference: `env:NAME` is NAME; `file:` is the workflows' name."""
    if p.source.startswith("env:"):
        return p.source[4:]
    return CI_SECRET_NAMES.get(p.setting_path) or re.sub(r"[^A-Z0-9]+", "_", p.setting_path.upper())


# Per environment: its name's suffix, the identity's role, and its roles on the file share and
# on the vaults (docs/github-actions.md, "Roles"); every identity also reads the workspace and
# the Log Analytics workspaces. Only the environments that read values hold secrets, and only
# `main` deploys to them.
IDENTITIES: tuple[tuple[str, str, str | None, str], ...] = (
    ("-plan", "plan", None, "Key Vault Reader"),
    ("-drift", "drift", "Storage File Data Privileged Reader", "Key Vault Secrets User"),
    ("", "apply", "Storage File Data Privileged Contributor", "Key Vault Secrets Officer"),
)
STORAGE = "$STORAGE"  # the workspace's storage account, read by the first command (a Var)


def environments(t: Tenant, vaults: Sequence[str]) -> list[Environment]:
    """The three environments and the roles docs/github-actions.md gives each identity."""
    from provision.access.check import vault_id
    from provision.msticpy_contract.settings import workspace_coordinates
    from provision.workspace import workspace_path

    read = [("Reader", workspace_path(t))]
    for s in t.sentinel:
        subscription, group = workspace_coordinates(t, s)
        read.append(
            (
                "Reader",
                f"/subscriptions/{subscription}/resourceGroups/{group}"
                f"/providers/Microsoft.OperationalInsights/workspaces/{s.workspace_name}",
            )
        )
    out = []
    for suffix, role, share, vault in IDENTITIES:
        roles = list(read)
        if share is not None:
            roles += [("Reader", STORAGE), (share, STORAGE)]
        roles += [(vault, vault_id(t, v, None)) for v in vaults]
        out.append(
            Environment(
                f"{t.name}{suffix}",
                role,
                f"id-msticpy-provision-{t.name}-{role}",
                tuple(roles),
                secrets=share is not None,
                main_only=share is not None,
            )
        )
    return out


def build(inv: Inventory, t: Tenant, pushes: Sequence[SecretPush], repo: str) -> Setup:
    """Every command the tenant needs, in the order they can run."""
    from provision.workspace import workspace_path

    setup = Setup(t.name, repo)
    where = ("--resource-group", t.resource_group, "--subscription", t.subscription_id)
    tsv = ("-o", "tsv")
    vaults = list(dict.fromkeys(p.vault for p in pushes))
    first = setup.section("the workspace's storage account (the file share's roles)")
    storage = ("--query", "properties.storageAccount", *tsv)
    first.append(
        cmd("az", "resource", "show", "--ids", workspace_path(t), *storage, sets="STORAGE")
    )
    for env in environments(t, vaults):
        var = env.role.upper()
        principal, client = Var(f"{var}_PRINCIPAL_ID"), Var(f"{var}_CLIENT_ID")
        identity = ("--name", env.identity, *where)
        cmds = setup.section(f"{env.name}: identity, federated credential and roles")
        subject = f"repo:{repo}:environment:{env.name}"
        cmds += [
            cmd("az", "identity", "create", *identity, "--query", "principalId", *tsv,
                sets=principal.name),
            cmd("az", "identity", "show", *identity, "--query", "clientId", *tsv, sets=client.name),
            cmd("az", "identity", "federated-credential", "create", "--name", f"github-{env.name}",
                "--identity-name", env.identity, *where, "--issuer", ISSUER,
                "--subject", subject, "--audiences", AUDIENCE[t.cloud]),
        ]  # fmt: skip
        assignee = (
            "--assignee-object-id",
            principal,
            "--assignee-principal-type",
            "ServicePrincipal",
        )
        for role, scope in env.roles:
            at = Var("STORAGE") if scope == STORAGE else scope
            cmds.append(
                cmd("az", "role", "assignment", "create", *assignee, "--role", role, "--scope", at)
            )
        gh = setup.section(f"{env.name}: GitHub environment, variables and secrets")
        api = f"repos/{repo}/environments/{env.name}"
        if env.main_only:
            policy = "deployment_branch_policy"
            gh.append(
                cmd(
                    "gh", "api", "--method", "PUT", api,
                    "-F", f"{policy}[protected_branches]=false",
                    "-F", f"{policy}[custom_branch_policies]=true",
                )
            )  # fmt: skip
            branch = ("-f", "name=main", "-f", "type=branch")
            gh.append(
                cmd("gh", "api", "--method", "POST", f"{api}/deployment-branch-policies", *branch)
            )
        else:
            gh.append(cmd("gh", "api", "--method", "PUT", api))
        in_env = ("--env", env.name, "--repo", repo)
        values: list[tuple[str, Arg]] = [
            ("AZURE_CLIENT_ID", client),
            ("AZURE_TENANT_ID", t.auth_tenant_id or t.tenant_id),
            ("AZURE_SUBSCRIPTION_ID", t.subscription_id),
            ("AZURE_CLOUD", AZURE_CLOUD[t.cloud]),
        ]
        gh += [
            cmd("gh", "variable", "set", name, *in_env, "--body", value) for name, value in values
        ]
        for p in _by_name(pushes) if env.secrets else []:
            name = ci_secret_name(p)
            if p.source.startswith("env:"):
                feed = f'printf %s "${name}" | '
            else:
                feed = f"< {shlex.quote(_shown_path(inv, p.source))}"
            gh.append(
                cmd("gh", "secret", "set", name, *in_env, stdin_from=p.source, shown_stdin=feed)
            )
        if env.role == "apply":
            setup.notes.append(
                f"add required reviewers to the {env.name} environment (Settings > "
                "Environments): the apply job waits for them"
            )
    enable = setup.section("turn the workflows on (repository variables)")
    for name in ("ONBOARD_ENABLED", "DRIFT_ENABLED"):
        enable.append(cmd("gh", "variable", "set", name, "--repo", repo, "--body", "true"))
    files = sorted({ci_secret_name(p): p for p in pushes if p.source.startswith("file:")}.items())
    if files:
        mapping = ", ".join(f"{p.source} -> env:{name}" for name, p in files)
        setup.notes.append(
            "the inventory CI reads names these values as environment secrets (set above from "
            f"the files): {mapping}"
        )
    setup.notes.append(
        f"drift as a pull request (drift-pr.yml) is opt-in: add {t.name} to the repository "
        "variable DRIFT_PR_TENANTS to use it (docs/github-actions.md)"
    )
    setup.notes.append(
        f"if GitHub shows another OIDC subject for {repo} (repositories created or renamed after "
        "its change to immutable-ID subjects), use that subject in the federated credentials"
    )
    return setup


def _by_name(pushes: Sequence[SecretPush]) -> list[SecretPush]:
    """One push per environment secret (a vault secret shared by settings is set once)."""
    return list({ci_secret_name(p): p for p in pushes}.values())


def _shown_path(inv: Inventory, source: str) -> str:
    path = (inv.base_dir / source[5:]).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shown(cmd: Command) -> str:
    """The command as a line for a POSIX shell (a Var is its shell variable)."""
    words = " ".join(f'"${a.name}"' if isinstance(a, Var) else shlex.quote(a) for a in cmd.argv)
    if cmd.shown_stdin.endswith("| "):
        words = cmd.shown_stdin + words
    elif cmd.shown_stdin:
        words = f"{words} {cmd.shown_stdin}"
    return f"{cmd.sets}=$({words})" if cmd.sets else words


def print_setup(setup: Setup) -> None:
    print(f"# ci-setup for tenant {setup.tenant}, repository {setup.repo}")
    print("# (run these, or run ci-setup again with --apply; docs/github-actions.md)")
    for heading, cmds in setup.commands:
        print(f"\n# {heading}")
        for cmd in cmds:
            print(shown(cmd))
    if setup.notes:
        print()
        for note in setup.notes:
            print(f"# then: {note}")


def apply_setup(setup: Setup, values: dict[str, bytes]) -> int:
    """Run every command (argv, no shell); stop at the first that fails, naming it."""
    got: dict[str, str] = {}
    for _, cmds in setup.commands:
        for cmd in cmds:
            argv = [got[a.name] if isinstance(a, Var) else a for a in cmd.argv]
            stdin = values[cmd.stdin_from] if cmd.stdin_from else None
            print(f"running: {shown(cmd)}", flush=True)
            try:
                # an argument list, no shell: az and gh with the arguments printed above
                res = subprocess.run(  # noqa: S603 (the printed az/gh argv; no shell)
                    argv, input=stdin, capture_output=True, check=False
                )
            except OSError as exc:
                print(f"error: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
                return 1
            if res.returncode != 0:
                why = res.stderr.decode("utf-8", "replace").strip().splitlines()
                print(
                    f"error: {argv[0]} {argv[1]} ... failed (exit {res.returncode})"
                    + (f": {why[-1]}" if why else ""),
                    file=sys.stderr,
                )
                return 1
            if cmd.sets:
                got[cmd.sets] = res.stdout.decode("utf-8", "replace").strip()
    for note in setup.notes:
        print(f"then: {note}")
    return 0


def default_repo() -> str | None:
    """OWNER/NAME of this folder's `origin` remote on GitHub, when there is one."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        res = subprocess.run(  # noqa: S603 (a fixed argument list)
            [git, "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"github\.com[:/]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", res.stdout.strip())
    return m.group(1) if m else None


def run(inventory: str, tenant: str, repo: str | None, apply: bool) -> int:
    from provision.commands.common import prepare
    from provision.secrets import resolve_sources

    repo = repo or default_repo()
    if repo is None:
        if apply:
            raise UserInputError([Problem("ci-setup --apply needs --repo OWNER/NAME")])
        repo = "OWNER/NAME"
    elif not REPO_RE.match(repo):
        raise UserInputError([Problem(f"--repo {repo!r}: use OWNER/NAME")])
    inv, renders = prepare(inventory, [tenant], None)
    (r,) = renders
    if r.tenant.absent:
        raise UserInputError(
            [Problem(f"tenant {tenant} is state: absent: it needs no CI set-up", file=inventory)]
        )
    setup = build(inv, r.tenant, r.pushes, repo)
    if not apply:
        print_setup(setup)
        return 0
    # Every value first: a missing one stops the run before anything is created.
    where = {p.source: f"tenant {tenant}, {p.setting_path}" for p in r.pushes}
    values = resolve_sources(list(where), inv.base_dir, os.environ, where=where)
    return apply_setup(setup, {k: v.reveal().encode("utf-8") for k, v in values.items()})
