"""Password sign-in cost: the Argon2id hash alone, and one sign-in POST through the hosted
page (identifier lookup, lockout check, session rotation, interaction update, redirect),
so the overhead beyond the hash can be read off. Prints figures; asserts nothing.

    python bench/sign_in.py [--count 40]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from portico.services.passwords import hash_password, verify_password
from run import PASSWORD, REDIRECT, USERNAME, log, portico_cli, start_portico


def hash_times(count: int) -> tuple[float, float]:
    """Median seconds of one hash and one verify (OWASP Argon2id m=19 MiB, t=2, p=1)."""

    async def run() -> tuple[list[float], list[float]]:
        hashes, verifies = [], []
        encrypted, method = await hash_password(PASSWORD)
        for _ in range(count):
            start = time.perf_counter()
            await hash_password(PASSWORD)
            hashes.append(time.perf_counter() - start)
            start = time.perf_counter()
            await verify_password(encrypted, method, PASSWORD)
            verifies.append(time.perf_counter() - start)
        return hashes, verifies

    hashes, verifies = asyncio.run(run())
    return statistics.median(hashes), statistics.median(verifies)


def sign_in_times(base: str, client_id: str, count: int) -> list[float]:
    """Seconds of each sign-in POST (a fresh browser each time)."""
    times = []
    query = urlencode({
        "client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    })  # fmt: skip
    for _ in range(count):
        with httpx.Client(base_url=base, timeout=30) as client:
            auth = client.get(f"/oidc/auth?{query}")
            cookie = auth.headers["set-cookie"].split(";", 1)[0]
            page = client.get("/sign-in", headers={"Cookie": cookie})
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            start = time.perf_counter()
            posted = client.post(
                "/sign-in",
                headers={"Cookie": cookie},
                data={"csrf_token": csrf, "identifier": USERNAME, "password": PASSWORD},
            )
            times.append(time.perf_counter() - start)
            assert posted.status_code == 303, posted.text[:300]
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--port", type=int, default=18090)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-signin-"))
    data, logs = tmp / "data", tmp / "logs"
    logs.mkdir()
    portico_cli("user", "create", "--data-dir", str(data), "--username", USERNAME,
                "--password", PASSWORD)  # fmt: skip
    web = portico_cli("app", "create", "--data-dir", str(data), "--name", "web",
                      "--type", "Traditional", "--redirect-uri", REDIRECT)  # fmt: skip
    server = start_portico(data, args.port, 1, logs)
    try:
        base = f"http://127.0.0.1:{args.port}"
        server.wait_http(base + "/api/status", 204)
        sign_in_times(base, web["id"], 3)  # warm-up
        log(f"{args.count} sign-ins")
        posts = sign_in_times(base, web["id"], args.count)
        hash_median, verify_median = hash_times(max(10, args.count // 2))
    finally:
        server.stop()
    p50 = statistics.median(posts)
    p99 = sorted(posts)[max(0, int(len(posts) * 0.99) - 1)]
    print(f"argon2id hash (m=19MiB,t=2,p=1) median   {hash_median * 1000:8.1f} ms")
    print(f"argon2id verify median                   {verify_median * 1000:8.1f} ms")
    print(f"sign-in POST p50 / p99                   {p50 * 1000:8.1f} / {p99 * 1000:.1f} ms")
    print(f"overhead beyond the verify (p50)         {(p50 - verify_median) * 1000:8.1f} ms")
    print(f"sequential sign-ins per second           {1 / p50:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
