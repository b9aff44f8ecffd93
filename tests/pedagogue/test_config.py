"""Settings layers: defaults, file, environment, command line."""

from pathlib import Path

import pytest

from pedagogue.config import ConfigError, load_settings


def test_defaults_use_local_url() -> None:
    settings = load_settings(None, environ={})
    assert settings.domain == "localhost:8800"


def test_file_overrides_default(tmp_path: Path) -> None:
    config = tmp_path / "pedagogue.toml"
    config.write_text('[instance]\nurl = "https://school-a.example"\n')
    assert load_settings(config, environ={}).base_url == "https://school-a.example"


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "pedagogue.toml"
    config.write_text('[database]\nurl = "postgresql://file/db"\n')
    settings = load_settings(config, environ={"PEDAGOGUE_DATABASE__URL": "postgresql://env/db"})
    assert settings.database.url == "postgresql://env/db"


def test_command_line_overrides_environment() -> None:
    settings = load_settings(
        None,
        environ={"PEDAGOGUE_SERVER__LISTEN": "127.0.0.1:1000"},
        overrides={"server": {"listen": "127.0.0.1:2000"}},
    )
    assert settings.server.listen == "127.0.0.1:2000"


def test_environment_boolean_is_parsed() -> None:
    settings = load_settings(None, environ={"PEDAGOGUE_FEDERATION__DEV": "true"})
    assert settings.allow_private is True


def test_environment_host_map_is_parsed() -> None:
    settings = load_settings(
        None, environ={"PEDAGOGUE_FEDERATION__HOST_MAP": "a.test=127.0.0.1, b.test=127.0.0.2"}
    )
    assert settings.federation.host_map == {"a.test": "127.0.0.1", "b.test": "127.0.0.2"}


def test_dev_is_off_by_default() -> None:
    settings = load_settings(None, environ={})
    assert (settings.allow_http, settings.allow_private) == (False, False)


def test_url_with_port_keeps_port_in_domain() -> None:
    settings = load_settings(None, environ={}, overrides={"instance": {"url": "http://localhost:8801/"}})
    assert settings.domain == "localhost:8801"


@pytest.mark.parametrize(
    "url", ["ftp://school.example", "https://school.example/path", "school.example"]
)
def test_invalid_url_rejected(url: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(None, environ={}, overrides={"instance": {"url": url}})


def test_tls_cert_without_key_rejected() -> None:
    with pytest.raises(ConfigError, match="tls_cert and server.tls_key"):
        load_settings(None, environ={}, overrides={"server": {"tls_cert": "cert.pem"}})


def test_bad_environment_number_names_variable() -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        load_settings(None, environ={"PEDAGOGUE_SERVER__MAX_BODY_BYTES": "big"})


def test_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert load_settings(example, environ={}).server.max_body_bytes == 1_048_576


def test_example_config_documents_every_key() -> None:
    import dataclasses
    import tomllib

    from pedagogue.config import Settings

    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    documented = tomllib.loads(example.read_text())
    settings = Settings()
    missing = [
        f"{section.name}.{key.name}"
        for section in dataclasses.fields(settings)
        for key in dataclasses.fields(getattr(settings, section.name))
        if key.name not in documented.get(section.name, {})
    ]
    assert missing == []
