"""`invoke demo-analyst`: an analyst's first day, offline, in one command.

After `onboard --local` (run first when the analyst's folder is not on the emulated share yet),
the demo boots one analyst's compute instance in a sandbox and checks, from inside the notebook
kernel, that msticpy works with its keys from Key Vault:

1. the local emulator is onboarded for the tenant (`onboard --local --grant-access`);
2. boot: the analyst's folder of the emulated workspace share is copied where Azure ML mounts it
   (``/home/azureuser/cloudfiles/code/Users/<alias>/``, moved into a temporary home), and the
   image's kernelspecs (``python310-sdkv2``, ``python3``) are written to a temporary Jupyter path;
3. the rendered startup script runs with bash as Azure ML runs it at boot (its
   ``/home/azureuser`` moved into the sandbox, nothing else changed);
4. jupyter_client starts the patched kernel; inside it msticpy loads the config through
   ``MSTICPYCONFIG``, resolves every TI provider key from the emulated vault with its own
   ``SecretsClient`` (as the analyst: the managed-identity endpoint hands out the analyst's
   token), and ``TILookup`` loads the configured providers.

The kernel reaches the vault at ``https://<vault>.vault.azure.net`` through the emulator's
HTTPS proxy, as msticpy builds the URL; nothing leaves the machine. Secret values are compared
inside this process and never printed.

Needs msticpy and ipykernel in this Python: ``pip install 'msticpy-provision[demo]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision import demo_sandbox as sandbox
from provision.demo_sandbox import (
    AML_HOME,
    DEMO_KERNEL,
    FOREIGN_NAMES,
    FOREIGN_PREFIXES,
    IMAGE_KERNELS,
)
from provision.errors import UserInputError

__all__ = ["DemoOptions", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    inventory: str
    tenant: str | None = None
    user: str | None = None


@dataclass
class Checks:
    """What the demo checked, printed as it goes, for someone seeing the tool the first time."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Shown shorter: (long prefix, how it is shown), e.g. the sandbox home as "~".
    short: list[tuple[str, str]] = field(default_factory=list)

    def _show(self, text: str) -> str:
        for long, shown in self.short:
            text = text.replace(long, shown)
        return text

    def step(self, number: int, title: str) -> None:
        print(f"\n{number}. {title}", flush=True)

    def note(self, text: str) -> None:
        print(f"   {self._show(text)}", flush=True)

    def ok(self, text: str) -> None:
        self.passed.append(text)
        print(f"   ok    {self._show(text)}", flush=True)

    def fail(self, text: str) -> None:
        self.failed.append(text)
        print(f"   FAIL  {self._show(text)}", flush=True)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pick(inv: Any, tenant: str | None, user: str | None) -> tuple[Any, Any]:
    tenants = [t for t in inv.tenants if not getattr(t, "absent", False)]
    if tenant is not None:
        chosen = [t for t in tenants if t.name == tenant]
        if not chosen:
            names = ", ".join(t.name for t in tenants)
            raise UserInputError([f"--tenant {tenant}: not in {inv.path} (tenants: {names})"])
        t = chosen[0]
    elif tenants:
        t = tenants[0]
    else:
        raise UserInputError([f"{inv.path}: no tenant to demonstrate"])
    with_oid = [u for u in t.user_list if u.object_id]
    if user is not None:
        found = [u for u in t.user_list if u.alias == user]
        if not found:
            aliases = ", ".join(u.alias for u in t.user_list) or "none"
            raise UserInputError([f"--user {user}: not a user of tenant {t.name} ({aliases})"])
        u = found[0]
        if not u.object_id:
            raise UserInputError(
                [
                    f"--user {user}: tenant {t.name} gives no object_id for {user}; the emulator "
                    "signs the analyst's token for that Entra object id: add "
                    f"{{alias: {user}, object_id: <uuid>}} to the inventory"
                ]
            )
    elif with_oid:
        u = with_oid[0]
    else:
        raise UserInputError(
            [f"tenant {t.name}: no user has an object_id, so no analyst can be signed in"]
        )
    if getattr(t, "secret_store", "keyvault") != "keyvault":
        raise UserInputError([f"tenant {t.name}: secret_store is not keyvault; nothing to fetch"])
    if getattr(t, "kernel_mode", "kernel") != "kernel":
        raise UserInputError(
            [f"tenant {t.name}: kernel_mode nbuser (legacy) is not demonstrated; use kernel"]
        )
    return t, u


def _onboarded(emu: Any, seed: Any, alias: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    share = _share(emu, seed)
    try:
        share.get_file_client(f"Users/{alias}/msticpyconfig.yaml").get_file_properties()
    except ResourceNotFoundError:
        return False
    return True


def _share(emu: Any, seed: Any) -> Any:
    from azure.storage.fileshare import ShareClient

    from provision.emulator.seed import NOTEBOOK_SHARE, storage_account_name

    account = storage_account_name(seed)
    return ShareClient(
        emu.endpoints["files"].format(account=account),
        NOTEBOOK_SHARE,
        credential=emu.endpoints["storage_keys"][account],
        connection_verify=str(emu.ca_cert),
    )


def _onboard(inventory: str, tenant: str) -> tuple[int, str]:
    """`onboard --local --grant-access` for one tenant; its exit code and its output."""
    from provision.commands import onboard
    from provision.commands.exitcodes import run_reporting_errors
    from provision.options import RunOptions

    opts = RunOptions(inventory=inventory, tenant=[tenant], local=True, grant_access=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = run_reporting_errors(lambda: int(onboard.run(opts)))
    return code, buffer.getvalue()


def _missing_access(emu: Any, t: Any, user: Any) -> str:
    """What the analyst lacks on the tenant's vault, in the words of `plan`'s access check."""
    from provision.access.arm import ArmReadError, read_vault
    from provision.access.check import _Roles, check_policy, check_rbac, vault_id
    from provision.azure import Clients, load_endpoints_file

    clients = Clients(1, load_endpoints_file(emu.endpoints_file))
    try:
        ml = clients.ml(t)
        workspace = ml.workspaces.get(t.resource_group, t.ml_workspace)
        vault = read_vault(ml, t.key_vault, vault_id(t, t.key_vault, workspace.key_vault))
        finding = (
            check_policy(vault, user) if not vault.rbac else check_rbac(ml, _Roles(ml), vault, user)
        )
    except ArmReadError as exc:
        return f"could not read the vault's access: {exc}"
    finally:
        clients.close()
    return f"{finding.status}: {finding.why}"


@dataclass
class _Instance:
    """The sandboxed compute instance: where Azure ML's folders are, moved under `sandbox`."""

    sandbox: Path
    alias: str

    @property
    def home(self) -> Path:  # /home/azureuser on the instance
        return self.sandbox / AML_HOME.strip("/")

    @property
    def user_folder(self) -> Path:
        return self.home / "cloudfiles" / "code" / "Users" / self.alias

    @property
    def config(self) -> Path:
        return self.user_folder / "msticpyconfig.yaml"


class _Demo:
    """The steps of `run_demo`, each printing what it checked and returning whether to go on."""

    def __init__(self, opts: DemoOptions) -> None:
        from provision.commands.common import local_state_dir
        from provision.emulator import seed_tenants_from_inventory
        from provision.inventory.load import load_inventory

        self.opts = opts
        self.inv = load_inventory(opts.inventory)
        self.t, self.user = _pick(self.inv, opts.tenant, opts.user)
        self.seeds = seed_tenants_from_inventory(self.inv)
        self.seed = next(s for s in self.seeds if s.tenant_id == self.t.tenant_id)
        self.state = local_state_dir(self.inv.path)
        self.checks = Checks()

    def emulator(self) -> Any:
        from provision.emulator import Emulator

        return Emulator(self.state).start(self.seeds)

    # --- 1 -------------------------------------------------------------------------------------
    def onboard(self) -> bool:
        t, alias, checks = self.t, self.user.alias, self.checks
        checks.step(1, "Onboarding (invoke onboard --local --grant-access)")
        emu = self.emulator()
        try:
            done = _onboarded(emu, self.seed, alias)
        finally:
            emu.stop()
        if done:
            checks.ok(f"already onboarded: Users/{alias}/msticpyconfig.yaml is on the share")
            return True
        code, output = _onboard(self.opts.inventory, t.name)
        if code != 0:
            print(output, end="")
            checks.fail(f"onboard --local -t {t.name} failed (exit {code}); its output is above")
            return False
        last = [line for line in output.splitlines() if line.startswith("Verify:")]
        checks.ok(
            "onboarded: secrets pushed to the emulated vault, files to the share, analysts "
            f"with an object_id given vault access ({last[-1] if last else 'verified'})"
        )
        return True

    # --- 2 -------------------------------------------------------------------------------------
    def boot(self, emu: Any, vm: _Instance) -> dict[str, str] | None:
        """The share mounted and the image's kernelspecs in place; the Jupyter variables."""
        checks = self.checks
        checks.step(2, "Boot: the analyst's compute instance, in a sandbox")
        checks.note(f"sandbox: {vm.sandbox} (removed afterwards); ~ is {AML_HOME} moved there")
        checks.short = [(str(vm.home), "~"), (str(vm.sandbox), "<sandbox>")]
        files = sandbox.materialise(_share(emu, self.seed), vm.alias, vm.user_folder)
        checks.ok(f"Users/{vm.alias}/ of the workspace share mounted at {vm.user_folder}")
        checks.note(f"files: {', '.join(files)}")
        kernels, jupyter_env = sandbox.kernelspecs(vm.sandbox)
        with sandbox.environ(jupyter_env):
            outside = sandbox.outside(vm.sandbox)
        if outside:
            checks.fail(
                "kernelspecs outside the sandbox are visible to jupyter_client and would be "
                f"patched: {', '.join(sorted(outside))}; run the demo where they are not"
            )
            return None
        checks.ok(f"image kernelspecs {', '.join(IMAGE_KERNELS)} in {kernels}")
        return jupyter_env

    # --- 3 -------------------------------------------------------------------------------------
    def startup(self, vm: _Instance, jupyter_env: dict[str, str]) -> dict[str, str] | None:
        """Run the rendered startup script; the instance's environment it ran in."""
        from provision.render import STARTUP_SCRIPT

        checks = self.checks
        checks.step(3, "Startup script, run with bash as Azure ML runs it at boot")
        script = vm.user_folder / STARTUP_SCRIPT
        if not script.is_file():
            checks.fail(f"Users/{vm.alias}/{STARTUP_SCRIPT} is not on the share")
            return None
        # The script as rendered, with Azure ML's folders moved into the sandbox.
        text = script.read_text(encoding="utf-8").replace(AML_HOME, str(vm.home))
        text = text.replace("/var/log/", f"{vm.sandbox}/var/log/")
        (vm.sandbox / "var" / "log").mkdir(parents=True)
        booted = vm.sandbox / "startup.sh"
        booted.write_text(text, encoding="utf-8")
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(FOREIGN_PREFIXES) and k not in FOREIGN_NAMES
            },
            **jupyter_env,
            "HOME": str(vm.home),
            "MSTICPY_PROVISION_PYTHON": sys.executable,
            "MSTICPY_PROVISION_ANALYST_HOME": str(vm.home),
            "MSTICPY_PROVISION_JUPYTER_ENV": str(vm.sandbox / "jupyter_env"),
        }
        bash = shutil.which("bash")
        if bash is None:
            checks.fail("no bash on PATH to run the startup script with")
            return None
        proc = subprocess.run(  # noqa: S603 (the script the tool rendered)
            [bash, str(booted)],
            env=env,
            cwd=str(vm.sandbox),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        summary = proc.stdout.strip().splitlines()
        checks.note(summary[-1] if summary else "(the script printed nothing)")
        kernels = Path(jupyter_env["JUPYTER_PATH"]) / "kernels"
        kernel_json = json.loads((kernels / DEMO_KERNEL / "kernel.json").read_text())
        if kernel_json.get("env", {}).get("MSTICPYCONFIG") != str(vm.config):
            checks.fail(f"{DEMO_KERNEL}/kernel.json does not set MSTICPYCONFIG to {vm.config}")
            return None
        checks.ok(f"{DEMO_KERNEL}/kernel.json sets MSTICPYCONFIG={vm.config}")
        return env

    # --- 4 -------------------------------------------------------------------------------------
    def kernel(
        self, emu: Any, vm: _Instance, jupyter_env: dict[str, str], boot_env: dict[str, str]
    ) -> None:
        from provision.emulator.envfile import NO_PROXY
        from provision.emulator.identity.urls import MSI_PREFIX

        t, user, checks = self.t, self.user, self.checks
        checks.step(4, f"Notebook kernel {DEMO_KERNEL}, started by jupyter_client")
        env = {
            **{k: v for k, v in boot_env.items() if k not in jupyter_env},
            # What the compute instance gives every process: the analyst's token from the
            # managed-identity endpoint, and HTTPS to Azure's hostnames.
            "IDENTITY_ENDPOINT": f"{emu.base_url}{MSI_PREFIX}/{t.tenant_id}/token",
            "IDENTITY_HEADER": emu.endpoints["managed_identity"]["header"],
            "AZURE_CLIENT_ID": str(user.object_id),
            "HTTPS_PROXY": emu.proxy_url,
            "https_proxy": emu.proxy_url,
            "NO_PROXY": NO_PROXY,
            "no_proxy": NO_PROXY,
            "REQUESTS_CA_BUNDLE": str(emu.ca_bundle),
            "SSL_CERT_FILE": str(emu.ca_bundle),
            "PATH": os.pathsep.join([str(sandbox.az_standin(vm.sandbox)), os.environ["PATH"]]),
        }
        checks.note(
            f"signed in as {user.alias}: tokens from the managed-identity endpoint for "
            f"object id {user.object_id}; https://{t.key_vault}.vault.azure.net reached "
            "through the emulator's proxy"
        )
        checks.note(
            "msticpy tries Azure.auth_methods in order; `az` (cli) is the emulator's stand-in "
            "for the instance's Azure CLI, signed in with the same identity"
        )
        mark = len(emu.requests())
        kernels = Path(jupyter_env["JUPYTER_PATH"]) / "kernels"
        with sandbox.environ(jupyter_env):  # its connection file goes to the sandbox's runtime
            result = sandbox.run_kernel(kernels, env, vm.user_folder, vm.sandbox / "kernel.log")
        if result["msticpyconfig"] == str(vm.config):
            checks.ok(f"msticpy {result.get('msticpy')} reads MSTICPYCONFIG={vm.config}")
        else:
            checks.fail(f"the kernel's MSTICPYCONFIG is {result['msticpyconfig']!r}")
        if result["error"]:
            checks.fail(f"msticpy failed: {result['error']}")
            checks.note(f"{user.alias} on {t.key_vault}: {_missing_access(emu, t, user)}")
            checks.note(
                f"grant it: invoke apply -i {self.opts.inventory} -t {t.name} --local "
                "--grant-access"
            )
            return
        self._check_calls(emu.requests()[mark:])
        self._check_keys(emu, result["keys"])
        missing = sorted(set(result["configured"]) - set(result["loaded"]))
        if missing:
            checks.fail(f"TILookup did not load {', '.join(missing)}")
        else:
            checks.ok(f"TILookup loaded every configured provider: {', '.join(result['loaded'])}")

    def _check_calls(self, log: list[dict[str, Any]]) -> None:
        """msticpy's Key Vault calls: to the vault's Azure hostname, as the analyst."""
        t, user, checks = self.t, self.user, self.checks
        calls = [e for e in log if e["service"] == "keyvault"]
        callers = {e.get("principal") for e in calls if e.get("principal")}
        hosts = {e.get("host") for e in calls}
        if hosts != {f"{t.key_vault}.vault.azure.net"}:
            checks.fail(f"msticpy's Key Vault calls went to {sorted(map(str, hosts))}")
        elif callers != {str(user.object_id)}:
            checks.fail(f"msticpy's Key Vault calls were made as {sorted(map(str, callers))}")
        else:
            checks.ok(
                f"msticpy's {len(calls)} Key Vault calls went to https://{t.key_vault}"
                f".vault.azure.net as {user.alias} ({user.object_id})"
            )

    def _check_keys(self, emu: Any, keys: list[dict[str, str]]) -> None:
        """Each key msticpy returned is the vault's value (compared by digest, never shown)."""
        from azure.keyvault.secrets import SecretClient

        t, checks = self.t, self.checks
        if not keys:
            checks.fail("msticpy resolved no TI provider key from Key Vault")
            return
        vault = SecretClient(
            emu.endpoints["keyvault"].format(vault=t.key_vault),
            emu.tenant_credential(t.tenant_id),
            connection_verify=str(emu.ca_cert),
        )
        for key in keys:
            stored = vault.get_secret(key["secret"]).value or ""
            where = f"{key['path']} <- {t.key_vault}/{key['secret']}"
            if key["sha256"] == _sha256(stored):
                checks.ok(f"{where}: msticpy got the vault's value")
            else:
                checks.fail(f"{where}: msticpy's value differs from the vault's")

    # --- all -----------------------------------------------------------------------------------
    def run(self) -> int:
        print(
            f"msticpy on an analyst's compute instance, offline: tenant {self.t.name}, analyst "
            f"{self.user.alias} (Entra object id {self.user.object_id})\n"
            f"local Azure emulator state: {self.state}"
        )
        if self.onboard():
            with tempfile.TemporaryDirectory(prefix="msticpy-demo-") as tmp:
                vm = _Instance(Path(tmp), self.user.alias)
                emu = self.emulator()
                try:
                    jupyter_env = self.boot(emu, vm)
                    boot_env = None if jupyter_env is None else self.startup(vm, jupyter_env)
                    if jupyter_env is not None and boot_env is not None:
                        self.kernel(emu, vm, jupyter_env, boot_env)
                finally:
                    emu.stop()
        checks = self.checks
        total = len(checks.passed) + len(checks.failed)
        if checks.failed:
            print(f"\n{len(checks.failed)} of {total} checks failed")
            return 1
        print(f"\nAll {total} checks passed: msticpy works in the analyst's notebook")
        return 0


def run_demo(opts: DemoOptions) -> int:
    """The analyst's day one against the local emulator; 0 when every check passed."""
    try:
        import ipykernel  # noqa: F401
        import msticpy  # noqa: F401
    except ImportError as exc:
        raise UserInputError(
            [
                f"demo-analyst needs msticpy and ipykernel ({exc.name} is missing): "
                "pip install 'msticpy-provision[demo]'"
            ]
        ) from None
    return _Demo(opts).run()
