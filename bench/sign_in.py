"""Password sign-in cost: the Argon2id hash alone, and one sign-in POST through the hosted
page (identifier lookup, lockout check, session rotation, interaction update, redirect),
so the overhead beyond the hash can be read off. Prints figures; asserts nothing.

    python bench/sign_in.py [--count 60]
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


def hash_median(count: int) -> float:
    """Median seconds of one hash (OWASP Argon2id m=19 MiB, t=2, p=1)."""

    async def run() -> list[float]:
        hashes = []
        for _ in range(count):
            start = time.perf_counter()
            await hash_password(PASSWORD)
            hashes.append(time.perf_counter() - start)
        return hashes

    return statistics.median(asyncio.run(run()))


def sign_in_times(base: str, client_id: str, count: int) -> list[tuple[float, float]]:
    """(sign-in POST, verify) seconds, ``count`` times: each POST from a fresh browser, each
    right after one verify of the same password timed here. A verify's time drifts with the
    machine's state by more than the overhead being measured, so each POST is compared with
    the verify timed next to it rather than with a median taken at another moment."""
    pairs = []
    loop = asyncio.new_event_loop()  # one loop: its start and stop are not the verify's time
    encrypted, method = loop.run_until_complete(hash_password(PASSWORD))

    async def timed_verify() -> float:
        start = time.perf_counter()
        await verify_password(encrypted, method, PASSWORD)  # on a thread, as the server does
        return time.perf_counter() - start

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
            verify = loop.run_until_complete(timed_verify())
            start = time.perf_counter()
            posted = client.post(
                "/sign-in",
                headers={"Cookie": cookie},
                data={"csrf_token": csrf, "identifier": USERNAME, "password": PASSWORD},
            )
            pairs.append((time.perf_counter() - start, verify))
            assert posted.status_code == 303, posted.text[:300]
    loop.close()
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=60)
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
        pairs = sign_in_times(base, web["id"], args.count)
        hashed = hash_median(max(10, args.count // 4))
    finally:
        server.stop()
    posts = sorted(post for post, _ in pairs)
    p50 = statistics.median(posts)
    p99 = posts[max(0, int(len(posts) * 0.99) - 1)]
    verify = statistics.median(v for _, v in pairs)
    overhead = statistics.median(post - v for post, v in pairs)
    print(f"argon2id hash (m=19MiB,t=2,p=1) median   {hashed * 1000:8.1f} ms")
    print(f"argon2id verify median                   {verify * 1000:8.1f} ms")
    print(f"sign-in POST p50 / p99                   {p50 * 1000:8.1f} / {p99 * 1000:.1f} ms")
    print(f"overhead beyond the verify (median of each POST minus the verify beside it)"
          f" {overhead * 1000:.1f} ms")  # fmt: skip
    print(f"sequential sign-ins per second           {1 / p50:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
