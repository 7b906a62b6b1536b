"""The ``portico`` command and settings: JSON output for automation, errors naming settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portico.settings import SettingsError, load_settings


def _portico(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_cli_creates_resource_role_app_and_user_as_json(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    resource = json.loads(
        _portico(
            "resource",
            "create",
            "--indicator",
            "https://api.example.com",
            "--scope",
            "read",
            "--scope",
            "write",
            "--json",
            *data,
        ).stdout
    )
    assert resource["indicator"] == "https://api.example.com"
    role = json.loads(
        _portico(
            "role",
            "create",
            "--name",
            "svc",
            "--type",
            "MachineToMachine",
            "--resource",
            "https://api.example.com",
            "--scope",
            "read",
            "--json",
            *data,
        ).stdout
    )
    assert role["type"] == "MachineToMachine"
    app = json.loads(
        _portico(
            "app",
            "create",
            "--name",
            "Worker",
            "--type",
            "MachineToMachine",
            "--role",
            "svc",
            "--role",
            "Logto Management API access",
            "--json",
            *data,
        ).stdout
    )
    assert len(app["id"]) == 21 and app["id"].isalnum() and app["id"].lower() == app["id"]
    assert len(app["secret"]) == 32 and app["secret"].isalnum()
    user = json.loads(
        _portico(
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "Bob@Example.COM",
            "--password",
            "a long password",
            "--json",
            *data,
        ).stdout
    )
    assert user["primaryEmail"] == "bob@example.com" and len(user["id"]) == 12
    duplicate = _portico(
        "user", "create", "--username", "bob", "--password", "a long password", *data
    )
    assert duplicate.returncode == 1 and "already in use" in duplicate.stderr
    bad = _portico(
        "app",
        "create",
        "--name",
        "x",
        "--type",
        "Traditional",
        "--redirect-uri",
        "http://evil.example/cb",
        *data,
    )
    assert bad.returncode == 1 and "loopback" in bad.stderr


def test_wrong_setting_fails_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PORTICO_ENDPOINT"):
        load_settings(environ={"PORTICO_ENDPOINT": "ftp://nope"})
    with pytest.raises(SettingsError, match="PORT"):
        load_settings(environ={"PORT": "seventy"})
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings(environ={"DATABASE_URL": "mysql://x"})
    config = tmp_path / "portico.toml"
    config.write_text('port = 4000\nendpoint = "https://id.example.com"\n')
    settings = load_settings(environ={"PORTICO_CONFIG": str(config)})
    assert (settings.port, settings.issuer) == (4000, "https://id.example.com/oidc")
    config.write_text("colour = 1\n")
    with pytest.raises(SettingsError, match="colour"):
        load_settings(environ={"PORTICO_CONFIG": str(config)})
    result = _portico("serve", env={"PORT": "0x"})
    assert result.returncode != 0 and "PORT" in result.stderr


def test_trusted_proxies_are_validated_and_named() -> None:
    settings = load_settings(environ={"PORTICO_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 "})
    assert settings.forwarded_allow_ips == "10.0.0.0/8,192.168.1.7" and settings.proxy_headers
    assert load_settings(environ={}).forwarded_allow_ips == "127.0.0.1"
    assert not load_settings(environ={}).proxy_headers
    with pytest.raises(SettingsError, match=r"PORTICO_TRUSTED_PROXIES: .*'lb\.internal'"):
        load_settings(environ={"PORTICO_TRUSTED_PROXIES": "10.0.0.1,lb.internal"})
    with pytest.raises(SettingsError, match="PORTICO_PURGE_INTERVAL"):
        load_settings(environ={"PORTICO_PURGE_INTERVAL": "-5"})


def _client_seen_by_serve(tmp_path: Path, trusted: str) -> str:
    """Start ``portico serve`` with PORTICO_TRUSTED_PROXIES, send one request claiming to be
    forwarded for 203.0.113.9, and return uvicorn's access log line for it."""
    import httpx

    from tests.support import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "portico.cli.main", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "PORTICO_DATA_DIR": str(tmp_path),
            "PORTICO_TRUSTED_PROXIES": trusted,
            "PORTICO_PURGE_INTERVAL": "0",
            "PORTICO_ACCESS_LOG": "true",  # off by default
        },
    )
    try:
        for _ in range(300):
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/status",
                    headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response.status_code == 204
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    return next(line for line in output.splitlines() if "/api/status" in line)


def test_forwarded_headers_are_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    assert "203.0.113.9" in _client_seen_by_serve(tmp_path, "127.0.0.1")
    untrusted = _client_seen_by_serve(tmp_path, "10.0.0.0/8")
    assert "203.0.113.9" not in untrusted and "127.0.0.1" in untrusted
