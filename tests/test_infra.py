"""Offline checks of the deployment: `infra/` Bicep, checkov, azd files, local settings.

No Bicep CLI is available, so every `.bicep` file is parsed with pycep and the
tests assert on the parsed resources. pycep renders identifiers and string
literals alike (`principalId: appPrincipalId` and `principalType:
'ServicePrincipal'` both become plain strings), so values are resolved against
the file's parameters and variables where that matters.

checkov runs from its own virtualenv `.venv-checkov` (it pins an older
pycep-parser than the one this suite uses); `make test` creates it from
`requirements-checkov.txt`.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pycep import BicepParser
from pydantic import SecretStr

from agents_core.config import ConfigError, Settings, load_registry, load_settings

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SAMPLE = ROOT / "local.settings.sample.json"

AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

PROJECT_TYPE = "Microsoft.CognitiveServices/accounts/projects"
STORAGE_TYPE = "Microsoft.Storage/storageAccounts"
APPINSIGHTS_TYPE = "Microsoft.Insights/components"
ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"

# Host / platform settings, as opposed to the adapter's own (Settings) names.
PLATFORM_PREFIXES = ("AzureWebJobs", "FUNCTIONS_", "APPLICATIONINSIGHTS_", "WEBSITE_")
PLATFORM_NAMES = {"PYTHON_ENABLE_INIT_INDEXING", "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"}


# --------------------------------------------------------------------------- helpers


@cache
def _parser() -> BicepParser:
    return BicepParser()


@cache
def parse(relative: str) -> dict[str, Any]:
    return cast(dict[str, Any], _parser().parse(file_path=INFRA / relative))


def bicep_files() -> list[str]:
    return sorted(str(p.relative_to(INFRA)) for p in INFRA.rglob("*.bicep"))


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """The declaration body of a resource or module, unwrapping `= if (...) {...}`."""
    config = cast(dict[str, Any], resource["config"])
    if "condition" in config and isinstance(config.get("config"), dict):
        return cast(dict[str, Any], config["config"])
    return config


def declared(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    """Resources of `type_` the file creates (not `existing` references)."""
    return {
        name: res
        for name, res in doc.get("resources", {}).items()
        if res["type"] == type_ and not res["existing"]
    }


def only(doc: dict[str, Any], type_: str) -> dict[str, Any]:
    found = declared(doc, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return body(next(iter(found.values())))


def variable(doc: dict[str, Any], name: str) -> Any:
    return doc["variables"][name]["value"]


def env_names() -> list[str]:
    """Environment names of every Settings field: the first alias choice."""
    names = []
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        assert choices, f"Settings.{field_name} has no AliasChoices validation_alias"
        names.append(choices[0])
    return names


def field_by_env() -> dict[str, str]:
    return dict(zip(env_names(), Settings.model_fields, strict=True))


def is_platform(name: str) -> bool:
    return name.startswith(PLATFORM_PREFIXES) or name in PLATFORM_NAMES


def adapter_settings() -> dict[str, Any]:
    return cast(dict[str, Any], variable(parse("app/api.bicep"), "adapterSettings"))


def platform_settings() -> dict[str, Any]:
    return cast(dict[str, Any], variable(parse("app/api.bicep"), "platformSettings"))


def sample_values() -> dict[str, str]:
    return cast(dict[str, str], json.loads(SAMPLE.read_text(encoding="utf-8"))["Values"])


def has_decorator(param: dict[str, Any], kind: str) -> bool:
    return any(d["type"] == kind for d in param["decorators"])


# --------------------------------------------------------------------------- parsing


def test_infra_holds_the_expected_modules() -> None:
    assert set(bicep_files()) >= {
        "main.bicep",
        "app/api.bicep",
        "app/foundry.bicep",
        "app/identity.bicep",
        "app/monitoring.bicep",
        "app/rbac.bicep",
        "app/storage.bicep",
    }


@pytest.mark.parametrize("relative", bicep_files())
def test_bicep_file_parses(relative: str) -> None:
    doc = parse(relative)
    assert doc.get("resources") or doc.get("modules"), f"{relative} declares nothing"


def test_modules_are_local_files_so_scanners_see_their_resources() -> None:
    for relative in bicep_files():
        for name, module in parse(relative).get("modules", {}).items():
            assert module["type"] == "local", f"{relative}: module {name} is a registry module"
            target = (INFRA / relative).parent / module["detail"]["path"]
            assert target.is_file(), f"{relative}: module {name} points at missing {target}"


# --------------------------------------------------------------------------- identity and roles


def test_role_assignments_are_all_in_rbac_module() -> None:
    holders = {r for r in bicep_files() if declared(parse(r), ROLE_ASSIGNMENT_TYPE)}
    assert holders == {"app/rbac.bicep"}


def _resolve_scope(doc: dict[str, Any], scope: Any) -> str:
    """Type of the resource a role assignment is scoped to (must be a resource symbol)."""
    assert isinstance(scope, str), f"scope {scope!r} is not a resource (resource group or deeper?)"
    target = doc["resources"].get(scope)
    assert target is not None, f"scope {scope!r} is not a resource declared in rbac.bicep"
    return cast(str, target["type"])


def _role_assignments() -> list[dict[str, Any]]:
    doc = parse("app/rbac.bicep")
    found = []
    for name, res in declared(doc, ROLE_ASSIGNMENT_TYPE).items():
        decl = body(res)
        props = decl["properties"]
        role = props["roleDefinitionId"]["function"]
        assert role["type"] == "subscription_resource_id", name
        assert role["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        role_ref = role["parameters"]["resource_name_1"]
        guid = doc["variables"][role_ref]["value"] if role_ref in doc["variables"] else role_ref
        found.append(
            {
                "name": name,
                "role": guid,
                "scope": _resolve_scope(doc, decl.get("scope")),
                "principalId": props["principalId"],
                "principalType": props.get("principalType"),
                "guarded": "condition" in res["config"],
            }
        )
    return found


def test_app_identity_gets_exactly_the_three_roles_on_specific_resources() -> None:
    app = {
        (a["role"], a["scope"]) for a in _role_assignments() if a["principalId"] == "appPrincipalId"
    }
    assert app == {
        (AZURE_AI_USER, PROJECT_TYPE),
        (STORAGE_BLOB_DATA_OWNER, STORAGE_TYPE),
        (MONITORING_METRICS_PUBLISHER, APPINSIGHTS_TYPE),
    }


def test_every_role_assignment_sets_principal_type() -> None:
    params = parse("app/rbac.bicep")["parameters"]
    valid = {"User", "ServicePrincipal", "Group"}
    for assignment in _role_assignments():
        kind = assignment["principalType"]
        assert kind, f"{assignment['name']} has no principalType"
        if kind in params:  # a parameter restricted to valid types
            allowed = next(
                d["argument"] for d in params[kind]["decorators"] if d["type"] == "allowed"
            )
            assert set(allowed) <= valid
        else:
            assert kind in valid, assignment
        if assignment["principalId"] == "appPrincipalId":
            assert kind == "ServicePrincipal", "a managed identity is a ServicePrincipal"


def test_deploying_user_gets_only_azure_ai_user_and_only_when_given() -> None:
    user = [a for a in _role_assignments() if a["principalId"] == "userPrincipalId"]
    assert [(a["role"], a["scope"]) for a in user] == [(AZURE_AI_USER, PROJECT_TYPE)]
    assert all(a["guarded"] for a in user)
    rbac = parse("app/rbac.bicep")
    assert rbac["parameters"]["userPrincipalId"]["default"] == ""


def test_project_scope_is_the_project_under_its_account() -> None:
    rbac = parse("app/rbac.bicep")["resources"]
    project = rbac["foundryProject"]
    assert project["existing"] and project["type"] == PROJECT_TYPE
    assert rbac[project["config"]["parent"]]["type"] == "Microsoft.CognitiveServices/accounts"


def test_app_runs_as_the_user_assigned_identity() -> None:
    doc = parse("app/api.bicep")
    site = only(doc, "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    auth = site["properties"]["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert auth == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
    assert adapter_settings()["AZURE_MANAGED_IDENTITY_CLIENT_ID"] == "identityClientId"
    identity = only(parse("app/identity.bicep"), "Microsoft.ManagedIdentity/userAssignedIdentities")
    assert identity["name"] == "name"


def _module_param(main: dict[str, Any], module: str, param: str) -> Any:
    return body(main["modules"][module])["params"][param]


def _output_of(value: Any) -> tuple[str, str]:
    """`identity.outputs.principalId` -> ('identity', 'principalId')."""
    ops = value["operator"]["operands"]
    inner = ops["operand_2"]["operator"]["operands"]
    assert inner["operand_1"] == "outputs"
    return ops["operand_1"], inner["operand_2"]


def test_main_wires_one_identity_into_app_and_role_assignments() -> None:
    main = parse("main.bicep")
    assert _output_of(_module_param(main, "api", "identityId")) == ("identity", "id")
    assert _output_of(_module_param(main, "api", "identityClientId")) == ("identity", "clientId")
    rbac_modules = [
        n for n, m in main["modules"].items() if m["detail"]["path"] == "app/rbac.bicep"
    ]
    assert rbac_modules, "main.bicep never deploys app/rbac.bicep"
    for name in rbac_modules:
        assert _output_of(_module_param(main, name, "appPrincipalId")) == (
            "identity",
            "principalId",
        )
        assert _module_param(main, name, "userPrincipalId") == "principalId"
    # The app-side invocation assigns the storage and telemetry roles.
    assert _output_of(_module_param(main, "rbac", "storageAccountName")) == ("storage", "name")
    assert _output_of(_module_param(main, "rbac", "applicationInsightsName")) == (
        "monitoring",
        "applicationInsightsName",
    )
    # An existing project is reached in its own resource group.
    scope = body(main["modules"]["rbacExistingProject"])["scope"]["function"]
    assert scope["type"] == "resource_group"


def test_existing_project_is_a_parameter() -> None:
    params = parse("main.bicep")["parameters"]
    assert params["foundryProjectResourceId"]["type"] == "string"
    assert params["createFoundryProject"]["type"] == "bool"
    assert params["createFoundryProject"]["default"] is False


# --------------------------------------------------------------------------- hardening


def test_storage_is_identity_only() -> None:
    doc = parse("app/storage.bicep")
    props = only(doc, STORAGE_TYPE)["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    container = only(doc, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["properties"]["publicAccess"] == "None"


def test_host_storage_and_telemetry_use_the_identity() -> None:
    platform = platform_settings()
    assert platform["AzureWebJobsStorage__credential"] == "managedidentity"
    assert platform["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert "AzureWebJobsStorage__blobServiceUri" in platform
    assert "AzureWebJobsStorage" not in platform, "a connection string would need a shared key"
    assert platform["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    assert platform["PYTHON_ENABLE_INIT_INDEXING"] == "1"
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        for secret_api in ("listKeys(", "AccountKey=", "InstrumentationKey="):
            assert secret_api not in text, f"{path.name} uses a shared secret ({secret_api})"


def test_site_is_https_only_tls12_without_ftp_or_basic_auth() -> None:
    doc = parse("app/api.bicep")
    props = only(doc, "Microsoft.Web/sites")["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    assert props["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    policies = declared(doc, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body(p)["name"]: body(p)["properties"]["allow"] for p in policies.values()} == {
        "ftp": False,
        "scm": False,
    }


def test_flex_consumption_python_311() -> None:
    doc = parse("app/api.bicep")
    plan = only(doc, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    config = only(doc, "Microsoft.Web/sites")["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    assert set(config["scaleAndConcurrency"]) == {"maximumInstanceCount", "instanceMemoryMB"}


def test_monitoring_has_local_auth_disabled() -> None:
    doc = parse("app/monitoring.bicep")
    assert only(doc, APPINSIGHTS_TYPE)["properties"]["DisableLocalAuth"] is True
    workspace = only(doc, "Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["features"]["disableLocalAuth"] is True


def test_new_foundry_account_has_local_auth_disabled() -> None:
    account = only(parse("app/foundry.bicep"), "Microsoft.CognitiveServices/accounts")
    assert account["kind"] == "AIServices"
    assert account["properties"]["disableLocalAuth"] is True
    assert account["properties"]["allowProjectManagement"] is True


# --------------------------------------------------------------------------- app settings


def test_app_settings_are_adapter_then_overrides_then_platform() -> None:
    site = only(parse("app/api.bicep"), "Microsoft.Web/sites")
    loop = site["properties"]["siteConfig"]["appSettings"]["loop_type"]["detail"]["array_name"]
    union = loop["function"]["parameters"]["arg_1"]["function"]
    assert union["type"] == "union"
    assert list(union["parameters"].values()) == [
        "adapterSettings",
        "adapterSettingsOverrides",
        "platformSettings",
    ]


def test_every_setting_of_the_core_is_an_app_setting() -> None:
    missing = set(env_names()) - set(adapter_settings())
    assert not missing, f"add {sorted(missing)} to adapterSettings in infra/app/api.bicep"


def test_gateway_keys_come_from_a_secure_parameter() -> None:
    api = parse("app/api.bicep")
    ref = adapter_settings()["GATEWAY_API_KEYS"]
    assert ref in api["parameters"] and has_decorator(api["parameters"][ref], "secure")
    main = parse("main.bicep")
    param = main["parameters"]["gatewayApiKeys"]
    assert has_decorator(param, "secure") and param["default"] is None
    assert _module_param(main, "api", "gatewayApiKeys") == "gatewayApiKeys"


def _literal_values() -> dict[str, str]:
    """Adapter settings in api.bicep as deployed by default: literals and parameter defaults."""
    params = parse("app/api.bicep")["parameters"]
    values = {}
    for name, value in adapter_settings().items():
        if isinstance(value, str) and value in params:
            default = params[value]["default"]
            if isinstance(default, str):
                values[name] = default
        elif isinstance(value, str):
            values[name] = value
    return values


@pytest.mark.parametrize("source", ["infra", "sample"])
def test_default_values_match_the_settings_class(source: str) -> None:
    """Literal values equal the Settings defaults; a blank value stands for an unset optional."""
    values = _literal_values() if source == "infra" else sample_values()
    fields = field_by_env()
    compared = 0
    for env, value in values.items():
        if env not in fields or "<" in value:  # platform name or placeholder
            continue
        field = fields[env]
        default = Settings.model_fields[field].default
        if value == "":
            plain = default.get_secret_value() if isinstance(default, SecretStr) else default
            assert plain in (None, ""), f"{source}: {env} is blank but defaults to {default!r}"
            continue
        if default is None:
            continue
        parsed = getattr(load_settings(**{env: value}), field)
        assert parsed == default, f"{source}: {env}={value!r} differs from the default {default!r}"
        compared += 1
    assert compared >= 5


def test_sample_lists_the_same_adapter_settings_as_infra_and_the_core() -> None:
    """`local.settings.sample.json` and the Bicep app settings name the same adapter settings.

    A name counts as a platform (host) setting if it starts with AzureWebJobs,
    FUNCTIONS_, APPLICATIONINSIGHTS_ or WEBSITE_, or is PYTHON_ENABLE_INIT_INDEXING;
    platform names legitimately differ (locally Azurite's connection string,
    in Azure identity-based storage and Entra telemetry). Every other name is an
    adapter setting and must be the same set in the sample, in api.bicep, and
    in the Settings class, so a setting added to the core, or a typo in either
    file, fails here.
    """
    sample = sample_values()
    infra = {**adapter_settings(), **platform_settings()}
    core = set(env_names())
    assert {n for n in sample if not is_platform(n)} == core
    assert {n for n in infra if not is_platform(n)} == core
    assert set(adapter_settings()) == core, "platform names do not belong in adapterSettings"
    assert sample["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert sample["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert (
        sample["PYTHON_ENABLE_INIT_INDEXING"] == platform_settings()["PYTHON_ENABLE_INIT_INDEXING"]
    )
    assert json.loads(SAMPLE.read_text(encoding="utf-8"))["IsEncrypted"] is False


def test_sample_and_infra_defaults_start_the_core() -> None:
    """With a project endpoint set, the blank defaults (AGENTS_CONFIG, client id) must load."""
    values = {n: v for n, v in sample_values().items() if not is_platform(n)}
    values["AZURE_AI_PROJECT_ENDPOINT"] = "https://acct.services.ai.azure.com/api/projects/p"
    values["GATEWAY_API_KEYS"] = "k1"
    values["AGENTS_CONFIG"] = _literal_values()["AGENTS_CONFIG"]
    try:
        settings = load_settings(**values)
        load_registry(settings, environ={})
    except ConfigError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"blank defaults do not load: {exc}")
    assert settings.agents_config is None
    assert not settings.managed_identity_client_id


# --------------------------------------------------------------------------- azd and packaging


def test_azure_yaml_deploys_this_folder_as_a_python_function() -> None:
    doc = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert doc["name"]
    assert doc["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    # azd finds the app by this tag.
    site = only(parse("app/api.bicep"), "Microsoft.Web/sites")
    assert site["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}


def test_parameters_file_matches_main_bicep() -> None:
    params = parse("main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {sorted(set(given) - set(params))}"
    required = {n for n, p in params.items() if p["default"] is None}
    assert required <= set(given), f"not supplied: {sorted(required - set(given))}"
    assert given["gatewayApiKeys"]["value"] == "${GATEWAY_API_KEYS}"


def test_funcignore_keeps_dev_files_out_of_the_package() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines >= {
        "tests/",
        "docs/",
        "infra/",
        ".venv*",
        ".ci/",
        "Makefile",
        "requirements-dev.txt",
        "requirements-checkov.txt",
        "local.settings*.json",
        "agents_core/emulator/",
        "bench/",
        "*.md",
        ".git*",
        "__pycache__/",
        ".env",
        ".azure/",
    }
    for needed in ("requirements.txt", "host.json", "function_app.py", "agents_core/"):
        assert needed not in lines


# --------------------------------------------------------------------------- checkov


def test_checkov_skips_are_inline_with_a_reason() -> None:
    pattern = re.compile(r"^\s*// checkov:skip=CKV2?_AZURE_\d+: \S.{9,}$")
    skips = 0
    for path in INFRA.rglob("*.bicep"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov:skip" in line:
                assert pattern.match(line), f"{path.name}:{number}: {line.strip()}"
                skips += 1
    assert skips < 15, "too many skips; fix the template instead"


def test_checkov_reports_no_failed_checks() -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing; `make test` creates it")
    result = subprocess.run(
        [str(CHECKOV), "--framework", "bicep", "-d", "infra", "-o", "json", "--skip-download"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    if isinstance(report, list):
        (report,) = [r for r in report if r.get("check_type") == "bicep"]
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"].get("failed_checks", [])
    ]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert result.returncode == 0, result.stderr[-2000:]
    checked = {c["resource"].rsplit(".", 1)[0] for c in report["results"]["passed_checks"]}
    assert {"Microsoft.Web/sites", STORAGE_TYPE, "Microsoft.CognitiveServices/accounts"} <= checked
    for skipped in report["results"].get("skipped_checks", []):
        assert skipped["check_result"].get("suppress_comment", "").strip(), skipped["check_id"]
