"""The deployment files agree with the code: every variable the manifests set is a setting
Portico reads (and valid), the probes hit a route the server answers, ports and the
unprivileged user match the Dockerfile. (No Docker engine or cluster runs here; the image
build itself is checked by hand, see docs/deploy.md.)"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import yaml

from portico.settings import ENV_NAMES, load_settings

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "kubernetes"


def _documents() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def _container() -> dict[str, Any]:
    deployment = _documents()["Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_manifest_settings_are_known_and_valid() -> None:
    documents = _documents()
    config, secret = documents["ConfigMap"]["data"], documents["Secret"]["stringData"]
    known = {name for names in ENV_NAMES.values() for name in names}
    assert set(config) | set(secret) <= known, set(config) | set(secret) - known
    environ = {**config, **secret, "PORTICO_ENCRYPTION_KEY": secrets.token_urlsafe(32)}
    settings = load_settings(environ=environ)
    assert settings.proxy_headers and settings.forwarded_allow_ips == "10.0.0.0/8"
    assert settings.database_url.startswith("postgresql://")
    envs = {
        ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in _container()["envFrom"]
    }
    assert envs == {
        documents["ConfigMap"]["metadata"]["name"],
        documents["Secret"]["metadata"]["name"],
    }


def test_probes_hit_a_route_the_server_answers(http: httpx.Client) -> None:
    container = _container()
    paths = {
        container[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    dockerfile = (ROOT / "Dockerfile").read_text()
    paths |= set(re.findall(r"(/api/[a-z]+)", dockerfile.split("HEALTHCHECK", 1)[1]))
    for path in paths:
        assert 200 <= http.get(path).status_code < 300, path


def test_image_and_manifest_agree_on_port_and_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2  # build stage, slim runtime
    runtime = dockerfile.rsplit("\nFROM ", 1)[1]
    uid = int(re.search(r"^USER (\d+):(\d+)$", runtime, re.M).group(1))  # type: ignore[union-attr]
    port = int(re.search(r"^EXPOSE (\d+)$", runtime, re.M).group(1))  # type: ignore[union-attr]
    assert uid >= 1000
    pod = _documents()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == uid
    [http_port] = _container()["ports"]
    assert http_port["containerPort"] == port == int(_documents()["ConfigMap"]["data"]["PORT"])
