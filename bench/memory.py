#!/usr/bin/env python3
"""Memory under a long mixed load: RSS after 100k and after 1M requests (no growth wanted).

Starts one ``portico serve`` process (SQLite, fresh data dir), signs a user in once for
tokens, then keeps wrk busy with a round-robin mix (client credentials ES384 JWT, userinfo,
introspection, refresh, discovery, JWKS, a Management API read) in chunks, printing the
process's RSS (VmRSS summed over its process group) at every chunk and at the 100k and final
marks, and the growth between them. Prints figures; asserts nothing. Needs wrk.

    python bench/memory.py [--requests 1000000] [--connections 16] [--chunk 20]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from load import Request
from run import auth_code_flow, basic, log, prepare_portico, requests_for, start_portico

MIX = ("client_credentials", "userinfo", "introspection", "refresh", "discovery", "jwks")


def mix_script(requests: list[Request], path: Path) -> None:
    """A wrk Lua script sending ``requests`` in turn on every connection."""
    entries = []
    for r in requests:
        path_part = "/" + r.url.split("/", 3)[3]
        headers = (
            "{"
            + ", ".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in r.headers.items())
            + "}"
        )
        body = json.dumps(r.body) if r.body else "nil"
        entries.append(f"  {{{json.dumps(r.method)}, {json.dumps(path_part)}, {headers}, {body}}}")
    path.write_text(
        "local reqs = {\n" + ",\n".join(entries) + "\n}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        "  local r = reqs[i]\n"
        "  return wrk.format(r[1], r[2], r[3], r[4])\n"
        "end\n"
    )  # fmt: skip


def run_chunk(base: str, script: Path, seconds: float, connections: int) -> tuple[int, int]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), base],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return total, (int(bad.group(1)) if bad else 0) + (
        sum(int(x) for x in errors.groups()) if errors else 0
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--mark", type=int, default=100_000, help="the early RSS reading")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--chunk", type=float, default=20.0, help="seconds per wrk run")
    ap.add_argument("--port", type=int, default=18090)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        log("wrk is needed (apt-get install -y wrk)")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="portico-memory-"))
    base = f"http://127.0.0.1:{args.port}"
    server = None
    try:
        m2m, web = prepare_portico(tmp / "data")
        server = start_portico(tmp / "data", args.port, 1, tmp)
        server.wait_http(base + "/api/status", 204)
        time.sleep(1.0)
        idle = server.rss_kib() / 1024
        with httpx.Client(timeout=30) as client:
            tokens = auth_code_flow(client, base, web["id"], web["secret"])
            api_token = client.post(
                base + "/oidc/token",
                data={"grant_type": "client_credentials", "scope": "all",
                      "resource": "https://default.logto.app/api"},
                headers={"Authorization": basic(m2m["id"], m2m["secret"])},
            ).json()["access_token"]  # fmt: skip
        creds = {
            "m2m": (m2m["id"], m2m["secret"]),
            "web": (web["id"], web["secret"]),
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        }
        all_requests = requests_for(base, creds)
        mix = [all_requests[name] for name in MIX]
        mix.append(Request("GET", base + "/api/users?page_size=5",
                           {"Authorization": f"Bearer {api_token}"}))  # fmt: skip
        script = tmp / "mix.lua"
        mix_script(mix, script)
        done = bad = 0
        at_mark = None
        started = time.perf_counter()
        print(f"idle RSS {idle:.1f} MiB")
        while done < args.requests:
            total, errors = run_chunk(base, script, args.chunk, args.connections)
            done, bad = done + total, bad + errors
            rss = server.rss_kib() / 1024
            rate = done / (time.perf_counter() - started)
            print(
                f"{done:>9,} requests  {rate:>6.0f}/s  errors {bad}  RSS {rss:.1f} MiB", flush=True
            )
            if at_mark is None and done >= args.mark:
                at_mark = (done, rss)
        final = server.rss_kib() / 1024
        assert at_mark is not None
        growth = (final - at_mark[1]) / at_mark[1] * 100
        print(
            f"\nRSS idle {idle:.1f} MiB; after {at_mark[0]:,} requests {at_mark[1]:.1f} MiB; "
            f"after {done:,} requests {final:.1f} MiB ({growth:+.1f} %); errors {bad}"
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
