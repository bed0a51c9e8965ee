"""What an admin reads: problems say where, what is wrong and what would be right."""

from __future__ import annotations

from mpschema_cases import DELETE, TENANT, build_valid_config, edited

from provision.msticpy_contract.schema import SchemaProblem, check_msticpyconfig

VT_KEY = "TIProviders.VirusTotal.Args.AuthKey"


def only_problem(*edits: tuple[str, object]) -> SchemaProblem:
    problems = check_msticpyconfig(edited(*edits))
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_config_has_no_problems() -> None:
    assert check_msticpyconfig(build_valid_config()) == []


def test_str_is_path_then_message() -> None:
    problem = SchemaProblem("KeyVault.VaultName", "required setting is missing; expected text")
    assert str(problem) == "KeyVault.VaultName: required setting is missing; expected text"
    assert problem.fatal is False


def test_bad_guid_names_the_value_and_the_expected_shape() -> None:
    text = str(only_problem(("KeyVault.TenantId", "contoso.onmicrosoft.com")))
    assert text.startswith("KeyVault.TenantId: 'contoso.onmicrosoft.com' is not a GUID")
    assert "8ecf8077-cf51-4820-aadd-14040956f35d" in text


def test_enum_lists_the_allowed_values() -> None:
    text = str(only_problem(("KeyVault.Authority", "AzureCloud")))
    assert "'AzureCloud' is not allowed" in text
    assert "global, usgov, cn" in text
    assert "global, cn, usgov" in str(only_problem(("Azure.cloud", "public")))


def test_missing_required_setting() -> None:
    text = str(only_problem(("KeyVault.Authority", DELETE)))
    assert (
        text
        == "KeyVault.Authority: required setting is missing; expected one of: global, usgov, cn"
    )


def test_single_allowed_auth_method_is_told_to_be_a_list() -> None:
    text = str(only_problem(("Azure.auth_methods", "cli")))
    assert "'cli' must be written as a list: [cli]" in text


def test_wrong_type_names_yaml_types() -> None:
    text = str(only_problem(("TIProviders.VirusTotal.Primary", "true")))
    assert text == "TIProviders.VirusTotal.Primary: expected true or false, got text 'true'"


def test_provider_id_says_which_id_msticpy_expects() -> None:
    text = str(only_problem(("TIProviders.OpenPageRank.Provider", "OpenPageRank")))
    assert "must be 'OPR'" in text


def test_secret_messages_show_the_accepted_forms_but_not_the_value() -> None:
    problem = only_problem((VT_KEY, 123456789))
    assert problem.path == VT_KEY
    assert "{EnvironmentVar: NAME}" in problem.message
    assert "{KeyVault: null" in problem.message
    assert "123456789" not in problem.message
    literal = only_problem((VT_KEY, {"str": 987654321}))
    assert literal.path == f"{VT_KEY}.str"
    assert "987654321" not in literal.message


def test_env_var_reference_without_a_name() -> None:
    problem = only_problem((VT_KEY, {"EnvironmentVar": None}))
    assert problem.path == f"{VT_KEY}.EnvironmentVar"
    assert "environment variable" in problem.message


def test_section_that_is_not_a_mapping_is_fatal() -> None:
    problem = only_problem(("TIProviders.OTX", "enabled"))
    assert problem.fatal
    assert str(problem) == (
        "TIProviders.OTX: must be a section (a mapping of setting names to values), "
        "got text 'enabled'"
    )


def test_every_problem_is_reported_at_once() -> None:
    problems = check_msticpyconfig(
        edited(
            ("TIProviders.OTX", "enabled"),  # fatal, but the rest is still checked
            ("KeyVault.Authority", "AzureCloud"),
            ("AzureSentinel.Workspaces.Default.TenantId", "x"),
        )
    )
    assert {p.path for p in problems} == {
        "TIProviders.OTX",
        "KeyVault.Authority",
        "AzureSentinel.Workspaces.Default.TenantId",
    }


def test_named_workspaces_are_checked_only_on_request() -> None:
    cfg = edited(
        ("AzureSentinel.Workspaces.Contoso.WorkspaceId", "law-contoso"),
        ("AzureSentinel.Workspaces.Fabrikam", "oops"),
        ("AzureSentinel.Workspaces.Empty", {}),
    )
    assert check_msticpyconfig(cfg) == []  # msticpy does not look at them
    problems = check_msticpyconfig(cfg, named_workspaces=True)
    assert [(p.path, p.fatal) for p in problems] == [
        ("AzureSentinel.Workspaces.Contoso.WorkspaceId", False),
        ("AzureSentinel.Workspaces.Fabrikam", False),
    ]
    assert "not a GUID" in problems[0].message


def test_input_mapping_is_not_modified() -> None:
    cfg = edited(("AzureCLI", {"Args": {"tenantId": TENANT, "clientSecret": "s"}}))
    before = build_valid_config() | {
        "AzureCLI": {"Args": {"tenantId": TENANT, "clientSecret": "s"}}
    }
    assert check_msticpyconfig(cfg) == []
    assert cfg == before
