#!/usr/bin/env python3
"""Client-credentials tokens/s at /oidc/token without a JWT customizer, then with a trivial
client-credentials script (``return { tier: 'gold' }``): what running a script per token
costs (a fresh V8 isolate in a helper process, the context read, the audit entry). Prints
the figures; never asserts on time.

    python bench/jwt_customizer.py                      # ~40 s on SQLite, 1 worker
    python bench/jwt_customizer.py --duration 10 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from procs import Server
from run import RESOURCE, log, prepare_portico, start_portico

TRIVIAL = "const getCustomJwtClaims = async () => ({ tier: 'gold' });"


async def measure(
    base: str, auth: tuple[str, str], seconds: float, concurrency: int
) -> tuple[float, float]:
    """(tokens/s, p50 ms) over ``seconds`` with ``concurrency`` requests in flight."""
    form = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"}
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await client.post("/oidc/token", data=form, auth=auth)
            assert response.status_code == 200, response.text
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await worker_warmup(client, form, auth)
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000


async def worker_warmup(
    client: httpx.AsyncClient, form: dict[str, str], auth: tuple[str, str]
) -> None:
    for _ in range(20):
        await client.post("/oidc/token", data=form, auth=auth)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=3931)
    parser.add_argument(
        "--plain-only", action="store_true", help="only the run without a script (any version)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portico-bench-jwt-") as tmp:
        data = Path(tmp)
        m2m, _ = prepare_portico(data)
        server: Server = start_portico(data, args.port, 1, data)
        base = f"http://127.0.0.1:{args.port}"
        try:
            server.wait_http(f"{base}/api/status", 204)
            auth = (m2m["id"], m2m["secret"])
            token = httpx.post(
                f"{base}/oidc/token",
                auth=auth,
                data={"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"},
            ).json()
            api = httpx.Client(
                base_url=f"{base}/api",
                timeout=30,
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
            log(f"no script: {args.duration:.0f} s, {args.concurrency} in flight")
            plain = asyncio.run(measure(base, auth, args.duration, args.concurrency))
            if args.plain_only:
                print(f"no JWT customizer: {plain[0]:.0f} tokens/s, p50 {plain[1]:.1f} ms")
                return 0
            put = api.put("/configs/jwt-customizer/client-credentials", json={"script": TRIVIAL})
            assert put.status_code in (200, 201), put.text
            time.sleep(1)  # every cache re-reads within 0.5 s
            log("trivial script")
            scripted = asyncio.run(measure(base, auth, args.duration, args.concurrency))
        finally:
            server.stop()
    print(f"{'client credentials':<28}{'tokens/s':>10}{'p50 ms':>10}")
    print(f"{'no JWT customizer':<28}{plain[0]:>10.0f}{plain[1]:>10.1f}")
    print(f"{'trivial script':<28}{scripted[0]:>10.0f}{scripted[1]:>10.1f}")
    print(f"cost of the script: {scripted[0] / plain[0]:.0%} of the throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
