#!/usr/bin/env python3
"""Where the time goes: one endpoint, in-process, under cProfile.

Drives the ASGI app directly (no sockets, no load generator competing for the CPU), so the
figure is the server's own CPU cost per request, and prints the functions that take it. This
is the tool the performance work used before changing anything (bench/README.md). Prints
figures; asserts nothing.

    python bench/cpu_profile.py client_credentials [--count 2000] [--top 25] [--database-url URL]
    python bench/cpu_profile.py userinfo | refresh | introspection | jwks | discovery
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import FORM, PASSWORD, REDIRECT, RESOURCE, USERNAME, auth_code_flow, basic

KINDS = ("client_credentials", "userinfo", "refresh", "introspection", "jwks", "discovery")


def cli(data: Path, env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        ["portico", *args, "--data-dir", str(data), "--json"],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    ).stdout  # fmt: skip
    return json.loads(out)


async def flow_tokens(client: httpx.AsyncClient, web: dict) -> dict:
    """run.auth_code_flow is synchronous; run it in a thread against a real socket-less app."""
    loop = asyncio.get_running_loop()

    class Bridge(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            async def send() -> httpx.Response:
                r = await client.send(
                    client.build_request(
                        request.method, str(request.url), headers=request.headers,
                        content=request.read(),
                    )
                )  # fmt: skip
                await r.aread()
                return httpx.Response(r.status_code, headers=r.headers, content=r.content)

            return asyncio.run_coroutine_threadsafe(send(), loop).result()

    def run() -> dict:
        with httpx.Client(transport=Bridge(), timeout=30) as sync:
            return auth_code_flow(sync, "http://127.0.0.1", web["id"], web["secret"])

    return await asyncio.to_thread(run)


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="portico-profile-"))
    data = tmp / "data"
    env = {**os.environ, "PORTICO_ENDPOINT": "http://127.0.0.1"}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    os.environ.update(env)
    m2m = cli(data, env, "app", "create", "--name", "bench", "--type", "MachineToMachine",
              "--role", "Logto Management API access")  # fmt: skip
    cli(data, env, "user", "create", "--username", USERNAME, "--password", PASSWORD)
    web = cli(data, env, "app", "create", "--name", "web", "--type", "Traditional",
              "--redirect-uri", REDIRECT)  # fmt: skip

    from portico.settings import load_settings
    from portico.web.app import create_app

    app = create_app(load_settings({"data_dir": data}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            tokens = await flow_tokens(client, web)
            request = build(args.kind, client, m2m, web, tokens)
            for _ in range(50):  # warm caches and SQLAlchemy's statement cache
                r = await client.send(request())
                if r.status_code >= 300:
                    raise SystemExit(f"{args.kind}: HTTP {r.status_code} {r.text[:300]}")
            profiler = cProfile.Profile()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if not args.no_profile:
                profiler.enable()
            for _ in range(args.count):
                await client.send(request())
            profiler.disable()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            if args.no_profile:
                print(
                    f"{args.kind}: {cpu / args.count * 1e6:.0f} µs CPU per request "
                    "(in-process, with the client's own cost)"
                )
                return
    if os.environ.get("PROFILE_DUMP"):
        profiler.dump_stats(os.environ["PROFILE_DUMP"])
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(args.top)
    print(out.getvalue())
    print(
        f"{args.kind}: {args.count} requests in-process, {cpu / args.count * 1e6:.0f} µs CPU "
        f"and {wall / args.count * 1e6:.0f} µs wall per request (under cProfile: slower "
        "than real; compare runs, not absolutes)"
    )


def build(kind: str, client: httpx.AsyncClient, m2m: dict, web: dict, tokens: dict):
    def post(url: str, body: dict, auth: tuple[str, str]):
        headers = {"Authorization": basic(*auth), "Content-Type": FORM}
        content = httpx.QueryParams(body).__str__()
        return lambda: client.build_request("POST", url, headers=headers, content=content)

    if kind == "client_credentials":
        body = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"}
        return post("/oidc/token", body, (m2m["id"], m2m["secret"]))
    if kind == "refresh":
        body = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        return post("/oidc/token", body, (web["id"], web["secret"]))
    if kind == "introspection":
        body = {"token": tokens["access_token"]}
        return post("/oidc/token/introspection", body, (web["id"], web["secret"]))
    if kind == "userinfo":
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        return lambda: client.build_request("GET", "/oidc/me", headers=headers)
    path = {"jwks": "/oidc/jwks", "discovery": "/oidc/.well-known/openid-configuration"}[kind]
    return lambda: client.build_request("GET", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-profile", action="store_true", help="only the CPU time per request")
    ap.add_argument("--database-url", default="", help="e.g. postgresql://…/db (must exist)")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
