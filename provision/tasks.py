"""The invoke tasks: the user interface of msticpy-provision.

Each task is thin: its parameters are the flags, it calls one library function and turns
user errors into one line per problem and exit code 1. Heavy modules (the Azure SDK, the
emulator) are imported inside the tasks so that `invoke --list` starts fast.

The same collection backs the `msticpy-provision` console script (see provision/cli.py), so a
pip-installed admin needs no checkout.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.tasks import Task
from invoke.tasks import task as invoke_task

from provision.errors import did_you_mean
from provision.kernel import PATCH_KERNEL_FLAGS
from provision.options import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PRUNE_MAX,
    DEFAULT_WARN_EXPIRY_DAYS,
    RunOptions,
)
from provision.task_help import (
    ACCESS_HELP,
    ALLOW_PERMANENT_DELETE_HELP,
    APPLY_PLAN_HELP,
    AUTH_HELP,
    BREAK_LOCK_HELP,
    CONCURRENCY_HELP,
    ENDPOINTS_HELP,
    FRESH_HELP,
    GRANT_PREVIEW_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    LIFECYCLE_HELP,
    LOCAL_HELP,
    LOCK_HELP,
    METADATA_ONLY_HELP,
    REQUIRE_ACCESS_HELP,
    ROTATE_SOURCE_HELP,
    RUN_HELP,
    SAVE_PLAN_HELP,
    SIGN_IN_HELP,
    TEMPLATES_HELP,
    TENANT_HELP,
    UNENCRYPTED_CACHE_HELP,
    WARN_EXPIRY_HELP,
    YES_HELP,
)

F = TypeVar("F", bound=Callable[..., Any])


# One letter, one meaning: every short option of every task, by the long flag it stands for. A
# flag not listed has none, so a new flag is long-only until it is added here (a test holds, across
# every task in `ns`, that no letter stands for two flags and that no LONG_ONLY flag has one).
SHORT = {
    "inventory": "i",
    "tenant": "t",
    "local": "l",
    "json": "j",
    "endpoints": "e",
    "out": "o",
    "config": "c",
    "user": "u",
    "secrets-dir": "s",
    "kernel": "k",
    "mode": "m",
    "all": "a",
    "dry-run": "n",
    "detailed-exitcode": "d",
    "require-access": "r",
    "quick": "q",
    "workers": "w",
    "port": "p",
    "faults": "f",
}

# Flags that delete, grant, replace or break something others rely on, and the newer flags: spelled
# out, never one mistyped letter.
LONG_ONLY = frozenset(
    {
        "break-lock",
        "no-secret-values",
        "allow-permanent-delete",
        "delete-computes",
        "prune",
        "grant-access",
        "replace",
        "revert",
        "yes",
        "plan",
        "fresh",
        "apply",
    }
)


def _storage_auth_choices() -> list[str]:
    from provision.workspace import StorageAuth

    return [str(a) for a in StorageAuth]


# Flags that take one of a few words: a word not among them is refused while parsing, with the
# closest one suggested (imported when a value is given, so `--list` stays fast).
CHOICES: dict[str, Callable[[], list[str]]] = {
    "storage-auth": _storage_auth_choices,
    "mode": lambda: list(next(f for f in PATCH_KERNEL_FLAGS if f.name == "mode").choices),
}


class _Flag(Argument):
    """invoke's Argument, refusing a value it cannot read (`--lock-timeout abc`) or a word not among
    its choices (`--storage-auth kye`) with one line (invoke's ParseError: the console script exits
    2, see provision/cli.py) where invoke would raise a ValueError with a traceback."""

    @property
    def flag(self) -> str:
        return "--" + str(self.names[0]).replace("_", "-")

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except ValueError:
            want = "a whole number" if self.kind is int else "a number"
            raise ParseError(f"error: {self.flag} {value!r}: use {want}") from None
        choices = CHOICES.get(self.flag[2:])
        if choices is not None and isinstance(value, str) and value not in choices():
            options = choices()
            raise ParseError(
                f"error: {self.flag} {value!r}: use one of {', '.join(options)}"
                + did_you_mean(value, options)
            )


# What a valued flag takes, as `--help` shows it (`--inventory=PATH`); other valued flags show N
# (a whole number), NUMBER or VALUE.
METAVARS = {
    "inventory": "PATH",
    "tenant": "NAME",
    "endpoints": "PATH",
    "templates": "DIR",
    "out": "PATH",
    "plan": "PATH",
    "config": "PATH",
    "user": "ALIAS",
    "secrets-dir": "DIR",
    "kernel": "NAME",
    "kernel-dir": "DIR",
    "user-folder": "DIR",
    "state-dir": "DIR",
    "seed": "PATH",
    "faults": "SPEC",
    "lock-timeout": "SECONDS",
    "latency-ms": "MS",
    "changed-since": "GITREF",
    "size": "VM_SIZE",
    "env-prefix": "PREFIX",
    "ml-workspace": "NAME",
    "key-vault": "NAME",
    "subscription-id": "ID",
    "resource-group": "NAME",
    "sizes": "N,N,...",
    "source": "REF",
    "throttle": "SPEC",
    "tenant-id": "ID",
    "warn-expiry": "DAYS",
    "auth": "MODE",
}


def valued_flags() -> dict[str, str]:
    """Every valued flag of every task in `ns`, by long name -> what it takes."""
    out: dict[str, str] = {}
    for name in ns.task_names:
        for arg in ns[name].get_arguments():
            long = str(arg.names[0])
            if arg.kind is bool:
                continue
            choices = CHOICES.get(long)
            default = {int: "N", float: "NUMBER"}.get(arg.kind, "VALUE")
            out[long] = "|".join(choices()) if choices else METAVARS.get(long, default)
    return out


def flag_names(long: str) -> tuple[str, ...]:
    """A flag's names as invoke takes them: the long one, and its letter from `SHORT` if any."""
    return (long, SHORT[long]) if long in SHORT else (long,)


class _Task(Task[Any]):
    """invoke's Task whose arguments are `_Flag`s (the same kinds, defaults and help), with the
    short options of `SHORT`, not the letters invoke would derive from the parameters' order."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        return [
            _Flag(
                names=flag_names(str(arg.names[0]).replace("_", "-")),
                kind=arg.kind,
                default=arg.default,
                help=arg.help,
                positional=arg.positional,
                optional=arg.optional,
                incrementable=arg.incrementable,
                attr_name=arg.attr_name,
            )
            for arg in super().get_arguments(ignore_unknown_help)
        ]


def task(**options: Any) -> Callable[[Callable[..., Any]], Task[Any]]:
    """invoke's @task(...) for this collection's tasks (see `_Flag`)."""
    decorator: Callable[[Callable[..., Any]], Task[Any]] = invoke_task(klass=_Task, **options)
    return decorator


def _flags(task_locals: dict[str, Any]) -> dict[str, Any]:
    """A task's flags from its `locals()` taken first thing in its body: its parameters but the
    context. The Azure-facing tasks' parameters are named as RunOptions' fields, so their flags
    are written once, in the signature, and reach the options by name (a test holds every task's
    parameters to the fields and their defaults)."""
    return {name: value for name, value in task_locals.items() if name != "c"}


def _run_options(task_locals: dict[str, Any]) -> RunOptions:
    """The task's flags as RunOptions, checked before anything starts (`provision.options`)."""
    flags = _flags(task_locals)
    flags["tenant"] = flags.get("tenant") or ()
    return RunOptions(**flags)


def _user_errors(func: F) -> F:
    """Run the task's command and exit with its code; errors become one line per problem."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        from provision.commands.exitcodes import run_reporting_errors

        code = run_reporting_errors(lambda: int(func(*args, **kwargs)))
        raise Exit(code=code)

    return wrapper  # type: ignore[return-value]


@task(
    help={
        "inventory": INVENTORY_HELP,
        "json": JSON_HELP,
        "check_secrets": "also resolve every secret reference (env:/file:) and report missing ones",
        "templates": TEMPLATES_HELP,
    },
)
@_user_errors
def validate(
    c: Context,
    inventory: str,
    *,
    json: bool = False,
    check_secrets: bool = False,
    templates: str | None = None,
) -> int:
    """Check an inventory: structure, names, references, rendered files against msticpy's schema."""
    from provision.commands import validate

    return validate.run(inventory, as_json=json, check_secrets=check_secrets, templates=templates)


@task(
    iterable=["tenant"],
    help={
        "inventory": INVENTORY_HELP,
        "out": "output folder; writes OUT/<tenant>/... (created if missing)",
        "tenant": TENANT_HELP,
        "templates": TEMPLATES_HELP,
    },
)
@_user_errors
def render(
    c: Context,
    inventory: str,
    out: str,
    *,
    tenant: list[str] | None = None,
    templates: str | None = None,
) -> int:
    """Render each tenant's msticpyconfig.yaml, config.json and per-user files into a folder."""
    from provision.commands import render as command

    return command.run(inventory, out, tenants=tenant or [], templates=templates)


@task(
    iterable=["tenant"],
    help={
        **RUN_HELP,
        "fresh": FRESH_HELP,
        **LIFECYCLE_HELP,
        "detailed_exitcode": "exit 0 when nothing would change, 2 when changes are pending, "
        "1 on errors (orphans count only with --prune)",
        "require_access": REQUIRE_ACCESS_HELP,
        "grant_access": GRANT_PREVIEW_HELP,
        "no_secret_values": METADATA_ONLY_HELP,
        "allow_permanent_delete": ALLOW_PERMANENT_DELETE_HELP,
        "warn_expiry": WARN_EXPIRY_HELP,
        "out": SAVE_PLAN_HELP,
    },
)
@_user_errors
def plan(
    c: Context,
    inventory: str,
    *,
    tenant: list[str] | None = None,
    local: bool = False,
    endpoints: str | None = None,
    json: bool = False,
    detailed_exitcode: bool = False,
    templates: str | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    storage_auth: str = "auto",
    require_access: bool = False,
    grant_access: bool = False,
    prune: bool = False,
    prune_max: int = DEFAULT_PRUNE_MAX,
    delete_computes: bool = False,
    no_secret_values: bool = False,
    allow_permanent_delete: bool = False,
    warn_expiry: float = DEFAULT_WARN_EXPIRY_DAYS,
    out: str | None = None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
    fresh: bool = False,
) -> int:
    """Show what apply would change in Key Vault and the workspace file shares (reads only)."""
    opts = _run_options(locals())
    from provision.commands import plan as command

    return command.run(opts)


def _apply_flags(
    c: Context,
    inventory: str,
    *,
    tenant: list[str] | None = None,
    local: bool = False,
    endpoints: str | None = None,
    json: bool = False,
    templates: str | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    storage_auth: str = "auto",
    lock_timeout: float = 0.0,
    require_access: bool = False,
    grant_access: bool = False,
    prune: bool = False,
    prune_max: int = DEFAULT_PRUNE_MAX,
    delete_computes: bool = False,
    break_lock: bool = False,
    allow_permanent_delete: bool = False,
    warn_expiry: float = DEFAULT_WARN_EXPIRY_DAYS,
    yes: bool = False,
    plan: str | None = None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
    fresh: bool = False,
) -> dict[str, Any]:
    """The flags of apply and onboard, declared once (both tasks take this signature)."""
    return _flags(locals())


def _task_of(flags: Callable[..., dict[str, Any]], command: str, doc: str) -> Callable[..., int]:
    """A task body with the signature (the flags) of `flags`, running provision.commands.COMMAND
    (invoke reads a task's flags through `__wrapped__`, as for every `_user_errors` task)."""

    @functools.wraps(flags)
    def body(*args: Any, **kwargs: Any) -> int:
        opts = _run_options(flags(*args, **kwargs))
        module = importlib.import_module(f"provision.commands.{command}")
        return int(module.run(opts))

    body.__name__ = body.__qualname__ = command
    body.__doc__ = doc
    return body


APPLY_HELP = {
    **RUN_HELP,
    "fresh": FRESH_HELP,
    **LIFECYCLE_HELP,
    "lock_timeout": LOCK_HELP,
    **ACCESS_HELP,
    "break_lock": BREAK_LOCK_HELP,
    "allow_permanent_delete": ALLOW_PERMANENT_DELETE_HELP,
    "warn_expiry": WARN_EXPIRY_HELP,
    "yes": YES_HELP,
    "plan": APPLY_PLAN_HELP,
}

apply = task(iterable=["tenant"], help=APPLY_HELP)(
    _user_errors(
        _task_of(
            _apply_flags,
            "apply",
            "Bring Key Vault secrets and user files to the inventory's state, then verify them.",
        )
    )
)

onboard = task(iterable=["tenant"], help=APPLY_HELP)(
    _user_errors(
        _task_of(
            _apply_flags,
            "onboard",
            "Validate, plan, apply and verify in one go: the whole onboarding of a fleet.",
        )
    )
)


@task(
    iterable=["tenant"],
    help={
        **RUN_HELP,
        "source": ROTATE_SOURCE_HELP,
        "lock_timeout": LOCK_HELP,
        "break_lock": BREAK_LOCK_HELP,
    },
)
@_user_errors
def rotate(
    c: Context,
    inventory: str,
    *,
    tenant: list[str] | None = None,
    local: bool = False,
    endpoints: str | None = None,
    json: bool = False,
    templates: str | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    storage_auth: str = "auto",
    lock_timeout: float = 0.0,
    break_lock: bool = False,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
    source: str,  # last: long only, it takes no short option from the flags apply shares
) -> int:
    """Push a changed secret source to every tenant and vault that references it, and verify."""
    flags = _flags(locals())
    ref = flags.pop("source")
    opts = _run_options(flags)
    from provision.commands import rotate as command

    return command.run(opts, ref)


@task(
    iterable=["tenant"],
    help={**RUN_HELP, "warn_expiry": WARN_EXPIRY_HELP, "fresh": FRESH_HELP},
)
@_user_errors
def verify(
    c: Context,
    inventory: str,
    *,
    tenant: list[str] | None = None,
    local: bool = False,
    endpoints: str | None = None,
    json: bool = False,
    templates: str | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    storage_auth: str = "auto",
    warn_expiry: float = DEFAULT_WARN_EXPIRY_DAYS,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
    fresh: bool = False,
) -> int:
    """Read back every secret and file and report any that differ from the inventory."""
    opts = _run_options(locals())
    from provision.commands import verify as command

    return command.run(opts)


@task(
    help={
        "state_dir": "folder for endpoints.json, requests.jsonl, the CA certificate and the state",
        "port": "TCP port on 127.0.0.1 (default: a free one)",
        "seed": "inventory whose tenants' workspaces, storage, vaults and computes to create",
        "faults": "fault injection SPEC, e.g. 'keyvault:SetSecret=503@0.2,files:*=reset@0.05'",
        "latency_ms": "latency added to every response, in milliseconds",
        "fault_seed": "random seed that makes fault injection repeatable (default 0)",
        "throttle": "answer 429 as Azure does past its request limits: 'azure' (Azure's bucket "
        "sizes), 'azure,scale=0.05', or 'arm-reads=20/2,keyvault=40/4' (burst/refill per s)",
    },
)
@_user_errors
def emulator(
    c: Context,
    state_dir: str,
    *,
    port: int = 0,
    seed: str | None = None,
    faults: str | None = None,
    latency_ms: float = 0.0,
    fault_seed: int = 0,
    throttle: str | None = None,
) -> int:
    """Run the local Azure emulator (Key Vault, Azure Files, ML workspace ARM) until interrupted."""
    from provision.emulator.cli import run_emulator

    return run_emulator(
        state_dir,
        port=port,
        seed_inventory=seed,
        faults=faults,
        latency_ms=latency_ms,
        fault_seed=fault_seed,
        throttle=throttle,
    )


@task(
    iterable=[f.name for f in PATCH_KERNEL_FLAGS if f.task and f.kind == "list"],
    help={f.name: f.help for f in PATCH_KERNEL_FLAGS if f.task},
)
@_user_errors
def patch_kernel(
    c: Context,
    config: str,
    *,
    kernel: list[str] | None = None,
    all: bool = False,
    mode: str = "kernel",
    user_folder: str | None = None,
    revert: bool = False,
    dry_run: bool = False,
    strict: bool = False,
    kernel_dir: list[str] | None = None,
) -> int:
    """On a compute instance: point the notebook kernels at msticpyconfig.yaml (MSTICPYCONFIG)."""
    # The flags are PATCH_KERNEL_FLAGS (provision/kernel.py), shared with the patcher the startup
    # script runs; a test holds this signature to that table.
    flags = _flags(locals())
    from provision.kernel import run_flags

    return run_flags(flags)


@task(
    help={
        "inventory": INVENTORY_HELP,
        "tenant": "the tenant whose workspace gets the instance",
        "user": "user alias; the instance runs Users/<alias>/ startup script at every boot",
        "size": "VM size (default: the user's compute_policy.vm_size, else Standard_DS3_v2)",
        "local": LOCAL_HELP,
        "endpoints": ENDPOINTS_HELP,
        **SIGN_IN_HELP,
    },
)
@_user_errors
def create_compute(
    c: Context,
    inventory: str,
    tenant: str,
    user: str,
    *,
    size: str = "",
    local: bool = False,
    endpoints: str | None = None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
) -> int:
    """Create a user's compute instance with our startup script wired in, and wait for it."""
    from provision.commands import create_compute as command

    return command.run(
        inventory,
        tenant=tenant,
        user=user,
        size=size,
        local=local,
        endpoints=endpoints,
        auth=auth,
        allow_unencrypted_cache=allow_unencrypted_cache,
    )


@task(
    iterable=["tenant"],
    help={
        "inventory": INVENTORY_HELP,
        "changed_since": "git ref: only tenants whose entry, secret names or templates changed",
        "chunks": "group tenants into at most N jobs (for fleets beyond the matrix limit)",
        "tenant": "only these tenants (repeatable)",
        "templates": TEMPLATES_HELP,
    },
)
@_user_errors
def matrix(
    c: Context,
    inventory: str,
    *,
    changed_since: str | None = None,
    chunks: int = 0,
    tenant: list[str] | None = None,
    templates: str | None = None,
) -> int:
    """Print the tenants as a GitHub Actions matrix (JSON for fromJSON)."""
    from provision.matrix import matrix_command

    return matrix_command(
        inventory,
        changed_since=changed_since,
        chunks=chunks,
        templates=templates,
        tenants=tuple(tenant or ()),
    )


@task(
    help={
        "tenants": "tenants in the synthetic fleet (default 50)",
        "users": "users per tenant (default 3)",
        "secrets": "secrets per tenant (default 5)",
        "latency_ms": "latency the emulator adds to every response (default 50)",
        "max_concurrency": CONCURRENCY_HELP,
        "quick": "a small fleet that finishes in under a minute",
        "json": "print the figures as one JSON document",
        "profile": "also profile the client during a first apply (CPU by where it goes, per "
        "request, on stderr)",
        "workers": "also time the first apply split across N `invoke apply` processes "
        "(disjoint tenants, C/N each)",
        "scale": "instead, measure first and no-op apply at 10, 50, 200 and 500 tenants "
        "(time, requests, CPU, peak memory)",
        "sizes": "with --scale: comma-separated fleet sizes (default 10,50,200,500)",
        "throttle": "instead, apply a 500-tenant fleet and 200 workspaces in one subscription "
        "under Azure's request limits (emulator --throttle azure): time, failed tenants, 429s "
        "absorbed per service",
        "signin": "instead, only the sign-in dimension: a first apply per --auth mode "
        "(client-secret, cli, device-code, github-oidc) at 10 tenants and --tenants",
    },
)
@_user_errors
def bench(
    c: Context,
    *,
    tenants: int = 50,
    users: int = 3,
    secrets: int = 5,
    latency_ms: float = 50.0,
    max_concurrency: int = 0,
    quick: bool = False,
    json: bool = False,
    profile: bool = False,
    workers: int = 0,
    scale: bool = False,
    sizes: str = "",
    throttle: bool = False,
    signin: bool = False,
) -> int:
    """Benchmark fleet onboarding against the emulator: first apply, sequential, no-op."""
    if throttle:
        from provision.devtools.bench_throttle import run_bench_throttle

        return run_bench_throttle(
            users=users,
            secrets=secrets,
            latency_ms=latency_ms,
            max_concurrency=max_concurrency,
            as_json=json,
        )
    from provision.devtools.bench import run_bench, run_bench_scale

    if scale:
        return run_bench_scale(
            sizes,
            users=users,
            secrets=secrets,
            latency_ms=latency_ms,
            max_concurrency=max_concurrency,
            as_json=json,
        )
    return run_bench(
        tenants=tenants,
        users=users,
        secrets=secrets,
        latency_ms=latency_ms,
        max_concurrency=max_concurrency,
        quick=quick,
        as_json=json,
        profile=profile,
        workers=workers,
        signin=signin,
    )


@task(
    help={
        "inventory": INVENTORY_HELP + " (default: examples/inventory.yaml)",
        "tenant": "the tenant to demonstrate (default: the inventory's first)",
        "user": "the analyst's alias (default: the tenant's first user with an object_id)",
    },
)
@_user_errors
def demo_analyst(
    c: Context,
    inventory: str = "examples/inventory.yaml",
    tenant: str | None = None,
    user: str | None = None,
) -> int:
    """An analyst's day one, offline: msticpy in the patched kernel reads its keys (local)."""
    from provision.demo_analyst import DemoOptions, run_demo

    return run_demo(DemoOptions(inventory, tenant, user))


ns = Collection(
    validate,
    render,
    plan,
    apply,
    verify,
    onboard,
    rotate,
    emulator,
    patch_kernel,
    create_compute,
    matrix,
    bench,
    demo_analyst,
)


@task(
    name="import",
    iterable=["user"],
    help={
        "config": "the existing msticpyconfig.yaml to import",
        "from_share": "import Users/<--user>/msticpyconfig.yaml from the tenant's workspace share "
        "instead (the tenant must be in the inventory; needs --replace)",
        "endpoints": ENDPOINTS_HELP + " (with --from-share)",
        "local": LOCAL_HELP + " (with --from-share)",
        "tenant": "name of the tenant to create (or, with --replace, to replace)",
        "inventory": "add the tenant to this inventory, keeping its comments (default: print it)",
        "secrets_dir": "write each plaintext secret to a 0600 file here (inside the inventory's "
        "folder) and reference it as file:",
        "env_prefix": "reference each plaintext secret as env:PREFIX_<SETTING_PATH> instead",
        "replace": "replace the tenant if the inventory already has it (and its secret files)",
        "ml_workspace": "the tenant's Azure ML workspace (a msticpyconfig does not name it)",
        "key_vault": "the tenant's Key Vault (default: the config's KeyVault.VaultName)",
        "subscription_id": "the ML workspace's subscription (default: from the config)",
        "resource_group": "the ML workspace's resource group (default: from the config)",
        "user": "an analyst alias of the tenant (repeatable; default: the replaced tenant's); "
        "with --from-share: the analyst whose config is read",
        "auth": AUTH_HELP + " (with --from-share)",
        "allow_unencrypted_cache": UNENCRYPTED_CACHE_HELP,
    },
)
@_user_errors
def import_config(
    c: Context,
    tenant: str,
    *,
    config: str | None = None,
    inventory: str | None = None,
    secrets_dir: str | None = None,
    env_prefix: str | None = None,
    replace: bool = False,
    ml_workspace: str | None = None,
    key_vault: str | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    user: list[str] | None = None,
    from_share: bool = False,
    endpoints: str | None = None,
    local: bool = False,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
) -> int:
    """Import an existing msticpyconfig.yaml as a tenant: fields, msticpy: block, references."""
    from provision.commands import import_config as command

    return command.run(
        command.ImportOptions(
            config=config,
            tenant=tenant,
            inventory=inventory,
            secrets_dir=secrets_dir,
            env_prefix=env_prefix,
            replace=replace,
            ml_workspace=ml_workspace,
            key_vault=key_vault,
            subscription_id=subscription_id,
            resource_group=resource_group,
            users=user or [],
            from_share=from_share,
            endpoints=endpoints,
            local=local,
            auth=auth,
            allow_unencrypted_cache=allow_unencrypted_cache,
        )
    )


ns.add_task(import_config)


@task(
    help={
        "tenant": "the tenant to set up for the workflows",
        "inventory": "inventory file (default: inventory.yaml, as the workflows read it)",
        "repo": "the GitHub repository OWNER/NAME the workflows run in (default: git's origin)",
        "apply": "run the commands (az and gh, signed in) instead of printing them",
    },
)
@_user_errors
def ci_setup(
    c: Context,
    tenant: str,
    *,
    inventory: str = "inventory.yaml",
    repo: str | None = None,
    apply: bool = False,
) -> int:
    """Print (or, with --apply, run) the az and gh commands a tenant needs for the workflows."""
    from provision.commands import ci_setup as command

    return command.run(inventory, tenant, repo, apply)


ns.add_task(ci_setup)


@task(
    iterable=["subscription_id"],
    help={
        "tenant": "name of the tenant to create (or, with --replace, to replace)",
        "inventory": "add the tenant to this inventory, keeping its comments (default: print it)",
        "secrets_dir": "write each plaintext secret found to a 0600 file here (inside the "
        "inventory's folder) and reference it as file:",
        "env_prefix": "reference each plaintext secret found as env:PREFIX_<SETTING_PATH> instead",
        "replace": "replace the tenant if the inventory already has it (its users too)",
        "ml_workspace": "the Azure ML workspace to adopt, when the subscriptions hold several",
        "subscription_id": "a subscription to search (repeatable): ML and Log Analytics workspaces",
        "resource_group": "search only this resource group for ML workspaces",
        "endpoints": ENDPOINTS_HELP,
        "local": LOCAL_HELP,
        "tenant_id": "the tenant's Entra tenant id (tokens are asked for there)",
        **SIGN_IN_HELP,
    },
)
@_user_errors
def discover(
    c: Context,
    tenant: str,
    *,
    inventory: str | None = None,
    secrets_dir: str | None = None,
    env_prefix: str | None = None,
    replace: bool = False,
    ml_workspace: str | None = None,
    subscription_id: list[str] | None = None,
    resource_group: str | None = None,
    endpoints: str | None = None,
    local: bool = False,
    tenant_id: str | None = None,
    auth: str | None = None,
    allow_unencrypted_cache: bool = False,
) -> int:
    """Build a tenant entry from Azure (read only): workspace, users, Sentinel, configs."""
    flags = _flags(locals())  # named as DiscoverOptions' fields, but the repeatable one
    from provision.commands import discover as command

    flags["subscription_ids"] = flags.pop("subscription_id") or []
    return command.run(command.DiscoverOptions(config=None, **flags))


ns.add_task(discover)
