"""The sandboxed compute instance of `invoke demo-analyst` (provision.demo_analyst): the image's
kernelspecs in a temporary Jupyter path, the analyst's share folder copied where Azure ML mounts
it, an `az` stand-in, the environment the kernel gets, and the code msticpy runs in the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

IMAGE_KERNELS = ("python310-sdkv2", "python3")  # AML images' kernel, and a Jupyter default
DEMO_KERNEL = IMAGE_KERNELS[0]
AML_HOME = "/home/azureuser"
KERNEL_TIMEOUT_S = 240.0
RESULT_MARK = "MSTICPY-PROVISION-DEMO "
# Variables of this shell that would make the kernel's Azure clients act as someone else.
FOREIGN_PREFIXES = ("AZURE_", "AZUREML_", "IDENTITY_", "MSI_", "ARM_")
FOREIGN_NAMES = {"MSTICPYCONFIG", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"}

# Runs inside the analyst's kernel. Prints one line: RESULT_MARK + JSON. Values of secrets are
# hashed there and only the digests leave the kernel.
KERNEL_CODE = r"""
import hashlib, json, os, sys
out = {"msticpyconfig": os.environ.get("MSTICPYCONFIG"), "keys": [], "error": None}
try:
    import msticpy
    out["msticpy"] = msticpy.__version__
    from msticpy.common.pkg_config import get_config
    out["vault"] = get_config("KeyVault", {}).get("VaultName")
    from msticpy.auth.secret_settings import SecretsClient
    from msticpy.common.provider_settings import get_provider_settings
    for name, settings in sorted(get_provider_settings("TIProviders").items()):
        for arg, raw in sorted(settings.args.data.items()):
            if not callable(raw):
                continue  # a plain value; Key Vault references are accessors
            path = f"TIProviders.{name}.Args.{arg}"
            value = settings.args[arg]
            out["keys"].append({
                "path": path,
                "secret": SecretsClient.format_kv_name(path),
                "sha256": hashlib.sha256(str(value).encode()).hexdigest(),
            })
    from msticpy.context.tilookup import TILookup
    ti = TILookup()
    out["configured"] = sorted(get_config("TIProviders", {}))
    out["loaded"] = sorted(ti.loaded_providers)
    out["unloaded"] = sorted(str(p) for p in getattr(ti, "unloaded_providers", []) or [])
except Exception as exc:
    text = str(exc).strip().splitlines()
    out["error"] = f"{type(exc).__module__}.{type(exc).__name__}: {text[0] if text else ''}"
print("__MARK__" + json.dumps(out))
""".replace("__MARK__", RESULT_MARK)


@contextlib.contextmanager
def environ(changes: dict[str, str]) -> Iterator[None]:
    """This process's environment with `changes`, restored afterwards (jupyter_client's
    KernelSpecManager reads JUPYTER_PATH from it)."""
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def materialise(share: Any, alias: str, folder: Path) -> list[str]:
    """Copy the files of Users/<alias>/ on the emulated share (a ShareClient) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for item in share.list_directories_and_files(f"Users/{alias}"):
        if item["is_directory"]:
            continue
        data = share.get_file_client(f"Users/{alias}/{item['name']}").download_file().readall()
        (folder / item["name"]).write_bytes(data)
        names.append(str(item["name"]))
    return sorted(names)


def kernelspecs(sandbox: Path) -> tuple[Path, dict[str, str]]:
    """The image's kernelspecs in a temporary Jupyter path, and the variables that make
    jupyter_client see only them."""
    root = sandbox / "jupyter"
    kernels = root / "path" / "kernels"
    for name in IMAGE_KERNELS:
        (kernels / name).mkdir(parents=True)
        doc = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python ({name})",
            "language": "python",
        }
        (kernels / name / "kernel.json").write_text(json.dumps(doc, indent=1) + "\n")
    return kernels, jupyter_env(root)


def jupyter_env(root: Path) -> dict[str, str]:
    """The variables that confine Jupyter and IPython to `root`: kernelspecs under
    `root/path/kernels` only, data, config, runtime and IPython folders of their own."""
    return {
        "JUPYTER_PATH": str(root / "path"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_PREFER_ENV_PATH": "0",
        "IPYTHONDIR": str(root / "ipython"),
    }


def az_standin(sandbox: Path) -> Path:
    """A folder holding ``az``: the instance's Azure CLI, signed in with the managed identity
    (`provision.emulator.az_standin`; msticpy's ``cli`` auth method runs it)."""
    from provision.emulator import az_standin

    folder = sandbox / "bin"
    folder.mkdir(exist_ok=True)
    program = folder / "az"
    source = Path(az_standin.__file__).read_text(encoding="utf-8")
    program.write_text(f"#!{sys.executable} -I\n{source}", encoding="utf-8")
    program.chmod(0o755)
    return folder


def outside(sandbox: Path) -> dict[str, str]:
    """Kernelspecs jupyter_client sees outside the sandbox (the startup script would patch
    them: the demo refuses to run then)."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager(ensure_native_kernel=False).find_kernel_specs()
    return {
        name: folder
        for name, folder in found.items()
        if not Path(folder).resolve().is_relative_to(sandbox.resolve())
    }


def run_kernel(kernels: Path, env: dict[str, str], cwd: Path, log: Path) -> dict[str, Any]:
    """Start the patched kernel with jupyter_client, run KERNEL_CODE, return its result."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    manager = KernelManager(kernel_name=DEMO_KERNEL, kernel_spec_manager=specs)
    chunks: list[str] = []
    with log.open("w", encoding="utf-8") as kernel_log:  # the kernel's own stdout and stderr
        manager.start_kernel(env=env, cwd=str(cwd), stdout=kernel_log, stderr=kernel_log)
    try:
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=KERNEL_TIMEOUT_S)

            def collect(msg: dict[str, Any]) -> None:
                if msg["msg_type"] == "stream":
                    chunks.append(msg["content"]["text"])

            client.execute_interactive(KERNEL_CODE, timeout=KERNEL_TIMEOUT_S, output_hook=collect)
        finally:
            client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    text = "".join(chunks)
    for line in text.splitlines():
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            return result
    raise RuntimeError("the kernel printed no result")
