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


def _access_log_of_serve(tmp_path: Path, trusted: str, path: str = "/api/status") -> str:
    """Start ``portico serve`` with PORTICO_TRUSTED_PROXIES and the access log on, send one
    request for ``path`` claiming to be forwarded for 203.0.113.9, and return uvicorn's
    access log line for it."""
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
                ready = httpx.get(f"http://127.0.0.1:{port}/api/status")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert ready.status_code == 204
        httpx.get(
            f"http://127.0.0.1:{port}{path}",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    path_only = path.partition("?")[0]
    return [line for line in output.splitlines() if path_only in line][-1]


def test_the_access_log_never_holds_tokens_codes_or_hints(tmp_path: Path) -> None:
    secrets = {"id_token_hint": "eyJhbGciOi.SECRET-ID-TOKEN.sig", "state": "STATE-VALUE",
               "login_hint": "bob@example.com", "setup": "SETUP-CODE"}  # fmt: skip
    query = "&".join(f"{name}={value}" for name, value in secrets.items())
    line = _access_log_of_serve(tmp_path, "127.0.0.1", f"/oidc/session/end?client_id=c1&{query}")
    assert "client_id=c1" in line and "id_token_hint=[redacted]" in line
    for value in secrets.values():
        assert value not in line, line


def test_forwarded_headers_are_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    assert "203.0.113.9" in _access_log_of_serve(tmp_path, "127.0.0.1")
    untrusted = _access_log_of_serve(tmp_path, "10.0.0.0/8")
    assert "203.0.113.9" not in untrusted and "127.0.0.1" in untrusted


def test_the_first_admin_needs_the_code_serve_prints_and_the_shell_recovers_an_admin(
    tmp_path: Path,
) -> None:
    """A fresh server on a public interface is not the first visitor's: the console's set-up
    needs the code `portico serve` prints; `portico admin reset-password` is the way back in
    (it ends the admin's sessions and forgets failed sign-ins)."""
    from types import SimpleNamespace

    import httpx

    from tests.console import ConsoleClient
    from tests.support import free_port

    port = free_port()
    env = {"PORTICO_DATA_DIR": str(tmp_path), "PORT": str(port), "PORTICO_PURGE_INTERVAL": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "portico.cli.main", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/status").status_code == 204:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        shown = _portico("admin", "setup-link", "--json", env=env)
        assert shown.returncode == 0, shown.stderr
        code = json.loads(shown.stdout)["setupCode"]
        console = ConsoleClient(SimpleNamespace(endpoint=f"http://localhost:{port}"))  # type: ignore[arg-type]
        fields = {"username": "owner", "password": "ochre-lantern-velvet-71",
                  "confirm": "ochre-lantern-velvet-71"}  # fmt: skip
        refused = console.submit("/console/welcome", "/console/welcome", fields)
        assert refused.status_code == 403 and not console.get("/console/admins").is_success
        created = console.submit("/console/welcome", "/console/welcome", {**fields, "setup": code})
        assert created.status_code == 303, created.text[:300]
        assert console.get("/console/admins").status_code == 200

        again = _portico("admin", "setup-link", env=env)
        assert again.returncode == 1 and "already has an admin" in again.stderr
        weak = subprocess.run(
            [sys.executable, "-m", "portico.cli.main", "admin", "reset-password",
             "--username", "owner", "--password-stdin"],
            input="short\n", capture_output=True, text=True, env={**os.environ, **env},
        )  # fmt: skip
        assert weak.returncode == 1 and "at least 8" in weak.stderr
        reset = subprocess.run(
            [sys.executable, "-m", "portico.cli.main", "admin", "reset-password",
             "--username", "owner", "--json"],
            capture_output=True, text=True, env={**os.environ, **env},
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        new_password = json.loads(reset.stdout)["password"]
        ended = console.get("/console/admins")  # the session ended with the old password
        assert ended.status_code == 303 and "/console/sign-in" in ended.headers["location"]
        console.sign_in("owner", new_password)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://localhost:{port}/console/welcome?setup={code}" in output


def test_webauthn_related_origins_are_https_origins() -> None:
    name = "PORTICO_WEBAUTHN_RELATED_ORIGINS"
    settings = load_settings(environ={name: "https://shop.example.com/, https://b.example.org"})
    assert settings.related_origins == ["https://shop.example.com", "https://b.example.org"]
    for bad in ("http://shop.example.com", "https://shop.example.com/path", "shop.example.com"):
        with pytest.raises(SettingsError, match=name):
            load_settings(environ={name: bad})
