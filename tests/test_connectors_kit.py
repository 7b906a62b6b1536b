"""The connector kit: templates, sealing confidential values, the entry-point registry and
the encryption-key setting."""

from __future__ import annotations

import textwrap
import uuid
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from portico.connectors import ConnectorError, Connectors, ConnectorType, registry
from portico.connectors import secrets as sealing
from portico.connectors.registry import GROUP, Registry
from portico.connectors.smtp import SmtpConnector
from portico.connectors.templates import render, select
from portico.settings import SettingsError, load_settings
from portico.storage.database import create_engine
from tests.smtp_server import smtp_config
from tests.support import Server


def test_placeholders_dotted_paths_unknown_kept_null_empty() -> None:
    payload = {"code": "123456", "application": {"name": "Shop"}, "link": None, "user": {}}
    text = "{{ code }}|{{application.name}}|{{link}}|{{nope}}|{{user.name}}|{{ application.x.y }}"
    assert render(text, payload) == "123456|Shop||{{nope}}||"


def test_template_selection_falls_back_to_generic_else_errors() -> None:
    config = SmtpConnector.parse_config(smtp_config(25))
    assert select(config.templates, "ForgotPassword").usage_type == "ForgotPassword"
    assert select(config.templates, "BindMfa").usage_type == "Generic"
    with pytest.raises(ConnectorError) as caught:
        select(config.templates[:1], "SignIn")
    assert caught.value.code == "connector.template_not_found"


def test_validation_messages_have_no_pydantic_prefix() -> None:
    config = smtp_config(0)
    config["templates"] = config["templates"][:1]
    with pytest.raises(ConnectorError) as caught:
        SmtpConnector.parse_config(config)
    messages = {e["path"]: e["message"] for e in caught.value.data}
    assert messages["templates"].startswith("templates for usage types")
    assert "Value error" not in caught.value.admin_message
    assert "port" in messages and "templates" in caught.value.admin_message


def test_sealing_round_trip_binds_ciphertext_to_its_row() -> None:
    paths = sealing.confidential_paths(SmtpConnector.config_schema())
    assert ("auth", "pass") in paths
    config = smtp_config(25, auth={"user": "u", "pass": "hunter2-password"})
    sealer = sealing.Sealer(b"k" * 32)
    sealed = sealer.seal(config, paths, "default/abc")
    assert "hunter2-password" not in str(sealed)
    assert sealed["auth"]["user"] == "u"
    assert sealer.open(sealed, paths, "default/abc") == config
    with pytest.raises(ConnectorError) as caught:
        sealer.open(sealed, paths, "default/other-row")
    assert caught.value.reason == "decrypt_failed"
    with pytest.raises(ConnectorError):
        sealing.Sealer(b"x" * 32).open(sealed, paths, "default/abc")


def test_mask_and_keep_masked() -> None:
    paths = {("auth", "pass")}
    stored = {"auth": {"user": "u", "pass": "real"}, "host": "a"}
    shown = sealing.mask(stored, paths)
    assert shown == {"auth": {"user": "u", "pass": sealing.MASK}, "host": "a"}
    edited = {**shown, "host": "b"}
    assert sealing.keep_masked(edited, stored, paths)["auth"]["pass"] == "real"
    replaced = {"auth": {"user": "u", "pass": "new"}}
    assert sealing.keep_masked(replaced, stored, paths)["auth"]["pass"] == "new"


def test_builtin_smtp_is_registered_through_the_entry_point_group() -> None:
    [point] = [p for p in entry_points(group=GROUP) if p.name == "simple-mail-transfer-protocol"]
    assert point.dist is not None and point.dist.name == "portico"
    assert point.load() is SmtpConnector
    assert registry.get("simple-mail-transfer-protocol") is SmtpConnector
    assert SmtpConnector in registry.all(ConnectorType.Email)


def _install_fake_plugin(directory: Path) -> tuple[str, str]:
    """A third-party connector package 'installed' by dropping it and its dist-info on
    sys.path, as pip would."""
    module = f"fake_sms_{uuid.uuid4().hex[:8]}"
    factory_id = module.replace("_", "-")
    (directory / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            from pydantic import BaseModel, Field
            from portico.connectors import ConnectorMetadata, ConnectorType, MessageConnector
            from portico.connectors.kit import CONFIDENTIAL

            SENT = []

            class Config(BaseModel):
                apiKey: str = Field(json_schema_extra=CONFIDENTIAL)

            class FakeSms(MessageConnector[Config]):
                type = ConnectorType.Sms
                config_model = Config
                metadata = ConnectorMetadata(
                    id="{factory_id}", target="fake", name={{"en": "Fake SMS"}},
                    description={{"en": "test double"}},
                )

                async def send_message(self, to, template_type, payload):
                    SENT.append((to, template_type, payload, self.config.apiKey))
            """
        )
    )
    dist = directory / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{factory_id} = {module}:FakeSms\n")
    return module, factory_id


async def test_a_package_installed_at_runtime_is_found_without_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server
) -> None:
    fresh = Registry(miss_rescan=0)
    fresh.refresh()
    module, factory_id = _install_fake_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = fresh.get(factory_id)  # unknown id → re-scan → found
    assert factory.type is ConnectorType.Sms
    engine = create_engine(server.database_url, pool=False)
    try:
        service = Connectors(engine, b"0" * 32, factories=fresh)
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        assert not await service.has(tenant, ConnectorType.Sms)
        await service.create(tenant, factory_id, {"apiKey": "plug-in-secret"})
        await service.send_message(tenant, ConnectorType.Sms, "+15550100", "SignIn", {"code": "1"})
    finally:
        await engine.dispose()
    import importlib

    sent = importlib.import_module(module).SENT
    assert sent == [("+15550100", "SignIn", {"code": "1"}, "plug-in-secret")]


def test_unknown_factory_is_connector_not_found() -> None:
    with pytest.raises(ConnectorError) as caught:
        Registry(miss_rescan=0).get("no-such-connector")
    assert caught.value.code == "connector.not_found"


def test_encryption_key_setting(tmp_path: Path) -> None:
    generated = load_settings({"data_dir": tmp_path}, environ={})
    key = generated.encryption_key_bytes()
    assert len(key) == 32 and generated.encryption_key_bytes() == key
    key_file = tmp_path / "encryption.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    value = "q" * 43
    configured = load_settings({"data_dir": tmp_path}, environ={"PORTICO_ENCRYPTION_KEY": value})
    assert configured.encryption_key_bytes() != key
    assert value not in repr(configured)
    with pytest.raises(SettingsError, match="PORTICO_ENCRYPTION_KEY") as caught:
        load_settings({}, environ={"PORTICO_ENCRYPTION_KEY": "tooshort-secret"})
    assert "tooshort-secret" not in str(caught.value)
    key_file.write_text("garbage")
    with pytest.raises(SettingsError, match="PORTICO_ENCRYPTION_KEY"):
        load_settings({"data_dir": tmp_path}, environ={}).encryption_key_bytes()


def test_cli_connector_list_shows_installed_factories() -> None:
    import json
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "portico.cli.main", "connector", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {row["id"]: row for row in json.loads(run.stdout)}
    smtp = rows["simple-mail-transfer-protocol"]
    assert (smtp["type"], smtp["target"], smtp["package"]) == ("Email", "smtp", "portico")
