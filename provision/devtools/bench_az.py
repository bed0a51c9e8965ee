"""The benchmark's `az`: `az account get-access-token` at the cost of the real Azure CLI.

`AzureCliCredential` runs ``az account get-access-token --output json --resource R --tenant T``
for every token (azure-identity ``_credentials/azure_cli.py``). The benchmark cannot count on a
signed-in Azure CLI, so it puts this program on PATH as ``az``: it answers with a token of the
tenant's admin application from the emulator's managed-identity endpoint (as
`provision.emulator.az_standin` does, for the tenant in ``--tenant``) after spending the CPU a
real call spends. That cost was measured on the machine the published figures come from: the
real azure-cli 2.x, signed in to the emulator through its proxy (docs/performance.md, "Sign-in"),
``az account get-access-token`` x 9: median 0.56 s of CPU (0.49-0.62), 1.76 s of wall time
(1.19-2.13, two cores shared with other work). This program's own start-up costs about
`STANDIN_BASE_CPU_S` (0.08-0.10 s measured), so it adds the difference.
``MSTICPY_PROVISION_BENCH_AZ_CPU_S`` overrides the target.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path

# Standard library only, run as a file (`python -I .../bench_az.py`): importing the `provision`
# package would start the emulator's modules and cost more than the CLI being imitated.
_STANDIN = Path(__file__).resolve().parents[1] / "emulator" / "az_standin.py"

AZ_CALL_CPU_S = 0.56  # the real `az account get-access-token`, median of 9 (see above)
STANDIN_BASE_CPU_S = 0.09  # this program without the added work (python -I start, the request)
CPU_ENV = "MSTICPY_PROVISION_BENCH_AZ_CPU_S"


def _spend(cpu_s: float) -> None:
    """Busy for `cpu_s` seconds of this process's CPU (what the real CLI's imports cost)."""
    until = time.process_time() + cpu_s
    n = 0
    while time.process_time() < until:
        n += 1


def main(args: list[str]) -> int:
    target = float(os.environ.get(CPU_ENV) or AZ_CALL_CPU_S)
    _spend(max(0.0, target - STANDIN_BASE_CPU_S))
    tenant = args[args.index("--tenant") + 1] if "--tenant" in args[:-1] else None
    endpoint = os.environ.get("IDENTITY_ENDPOINT", "")
    if tenant and "/_msi/" in endpoint:  # the managed-identity endpoint of that tenant
        root = endpoint.split("/_msi/", 1)[0]
        os.environ["IDENTITY_ENDPOINT"] = f"{root}/_msi/{tenant}/token"
    standin_main = runpy.run_path(str(_STANDIN), run_name="az_standin")["main"]
    return int(standin_main(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
