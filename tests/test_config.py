"""Configuration: env, LiteLLM-style YAML, and clear start-up errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents_core.config import ConfigError, Settings, load_registry, load_settings

LITELLM_FILE = """
model_list:
  - model_name: azure-agent-1
    litellm_params:
      model: azure_ai/agents/asst_abc123
      api_base: https://your-resource.services.ai.azure.com/api/projects/your-project
      # Service Principal auth (recommended)
      tenant_id: os.environ/AZURE_TENANT_ID
      client_id: os.environ/AZURE_CLIENT_ID
      client_secret: os.environ/AZURE_CLIENT_SECRET

  - model_name: azure-agent-math-tutor
    litellm_params:
      model: azure_ai/agents/asst_def456
      api_base: https://your-resource.services.ai.azure.com/api/projects/your-project
      # Or pass Azure AD token directly
      api_key: os.environ/AZURE_AD_TOKEN
litellm_settings:
  drop_params: true
"""
ENV = {
    "AZURE_TENANT_ID": "tenant",
    "AZURE_CLIENT_ID": "client",
    "AZURE_CLIENT_SECRET": "s3cret",
    "AZURE_AD_TOKEN": "eyJ.token",
}


def registry_from(text: str, tmp_path: Path, env: dict[str, str] | None = None, **settings: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_registry(Settings(agents_config=path, **settings), env if env is not None else ENV)


def test_the_litellm_reference_file_works_unchanged(tmp_path: Path) -> None:
    registry = registry_from(LITELLM_FILE, tmp_path)
    assert registry.aliases() == ["azure-agent-1", "azure-agent-math-tutor"]
    first = registry.resolve("azure-agent-1")
    assert first is not None and first.agent_id == "asst_abc123"
    assert first.endpoint == "https://your-resource.services.ai.azure.com/api/projects/your-project"
    assert first.credential.kind == "client_secret"
    assert first.credential.client_secret is not None
    assert first.credential.client_secret.get_secret_value() == "s3cret"
    tutor = registry.resolve("azure_ai/agents/asst_def456")
    assert tutor is not None and tutor.alias == "azure-agent-math-tutor"
    assert tutor.credential.kind == "token"
    assert "eyJ" not in repr(tutor) and "s3cret" not in repr(first)


def test_project_endpoint_makes_any_agent_id_callable() -> None:
    settings = Settings(project_endpoint="https://r.services.ai.azure.com/api/projects/p/")
    registry = load_registry(settings, {})
    spec = registry.resolve("azure_ai/agents/asst_xyz")
    assert spec is not None and spec.agent_id == "asst_xyz"
    assert spec.endpoint == "https://r.services.ai.azure.com/api/projects/p"
    assert registry.resolve("gpt-4o") is None
    assert registry.resolve("azure_ai/agents/") is None


def test_without_endpoint_unknown_ids_do_not_resolve() -> None:
    assert load_registry(Settings(), {}).resolve("azure_ai/agents/asst_xyz") is None


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (
            "model_list:\n  - litellm_params: {model: azure_ai/agents/a}\n",
            {},
            "model_list[0].model_name",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: azure_ai/agents/a}\n",
            {},
            "model_list[0] (x).litellm_params.api_base",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: azure_ai/agents/a, "
            "api_base: 'http://example.com/api/projects/p'}\n",
            {},
            "https://",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: azure_ai/agents/a, "
            "api_base: 'https://e/api/projects/p', api_key: os.environ/MISSING}\n",
            {},
            "model_list[0] (x).litellm_params.api_key: environment variable MISSING is not set",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: azure_ai/agents/a, "
            "api_base: 'https://e/api/projects/p', tenant_id: t, client_id: c}\n",
            {},
            "model_list[0] (x).litellm_params.client_secret",
        ),
        (
            "model_list:\n  - model_name: x\n    litellm_params: {model: azure_ai/agents/a, "
            "api_base: 'https://e/p'}\n  - model_name: x\n    litellm_params: {model: "
            "azure_ai/agents/b, api_base: 'https://e/p'}\n",
            {},
            "model_list[1].model_name: duplicate",
        ),
        ("just: text\n", {}, "must contain a `model_list`"),
        ("model_list: [\n", {}, "not valid YAML"),
    ],
)
def test_invalid_files_name_the_entry_and_field(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        registry_from(text, tmp_path, env)
    assert expected in str(raised.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_registry(Settings(agents_config=tmp_path / "nope.yaml"), {})


def test_invalid_settings_do_not_echo_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_AI_PROJECT_ENDPOINT", "http://secret-host.example/api/projects/p")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "https://" in str(raised.value)
    assert "secret-host" not in str(raised.value)


def test_yaml_errors_never_quote_the_file(tmp_path: Path) -> None:
    text = (
        "model_list:\n  - model_name: x\n    litellm_params:\n"
        '      client_secret: "s3cr3t-VALUE" extra\n'
    )
    with pytest.raises(ConfigError) as raised:
        registry_from(text, tmp_path)
    assert "line 4" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
