"""msticpy's own validator accepts every rendered msticpyconfig.yaml of the example."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml
from mpschema_cases import Verdict
from support import EXAMPLE

from provision.inventory.load import load_inventory, load_inventory_text
from provision.render import render_tenants

VARIANTS = {
    "example": lambda text: text,
    "env secret store": lambda text: text.replace("secret_store: keyvault", "secret_store: env"),
    "secret prefix": lambda text: text.replace(
        "    key_vault: kv-contoso-nb", "    key_vault: kv-contoso-nb\n    secret_prefix: soc"
    ),
    "usgov cloud": lambda text: text.replace("cloud: global", "cloud: usgov"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_msticpy_validator_reports_no_error_on_rendered_configs(
    variant: str, msticpy_verdict: Callable[[Mapping[str, Any]], Verdict]
) -> None:
    inv = load_inventory_text(VARIANTS[variant](EXAMPLE.read_text()), EXAMPLE)
    for r in render_tenants(inv, []):
        cfg = yaml.safe_load(r.tenant_files["msticpyconfig.yaml"].content)
        assert msticpy_verdict(cfg) == frozenset(), f"{variant}: {r.tenant.name}"


def test_the_oracle_can_fail(msticpy_verdict: Callable[[Mapping[str, Any]], Verdict]) -> None:
    """The same check flags a rendered config that was broken after rendering."""
    r = render_tenants(load_inventory(EXAMPLE), ["contoso"])[0]
    cfg = yaml.safe_load(r.tenant_files["msticpyconfig.yaml"].content)
    cfg["KeyVault"]["Authority"] = "AzureCloud"
    assert msticpy_verdict(cfg) == frozenset({"KeyVault.Authority"})
