"""Management API latency on a filled tenant, and what the audit entry costs the token
endpoint. Starts Portico (SQLite, one worker), creates ``--users`` users through
``POST /api/users``, then times list, search, single-user and log reads and a client-credentials
exchange. Prints figures; asserts nothing.

    python bench/management_api.py [--users 2000] [--count 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import basic, log, percentile, portico_cli, start_portico

MANAGEMENT_API = "https://default.logto.app/api"


def timed(count: int, call: Callable[[], httpx.Response], status: int = 200) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - start)
        assert response.status_code == status, response.text[:300]
    return times


def row(label: str, times: list[float]) -> str:
    p50, p99 = statistics.median(times) * 1000, percentile(times, 0.99) * 1000
    return f"{label:<44} {p50:8.2f} / {p99:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--port", type=int, default=18091)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-mgmt-"))
    data, logs = tmp / "data", tmp / "logs"
    logs.mkdir()
    m2m = portico_cli(
        "app", "create", "--data-dir", str(data), "--name", "bench",
        "--type", "MachineToMachine", "--role", "Logto Management API access",
    )  # fmt: skip
    server = start_portico(data, args.port, 1, logs)
    results: list[str] = []
    try:
        base = f"http://127.0.0.1:{args.port}"
        server.wait_http(base + "/api/status", 204)
        auth = {"Authorization": basic(m2m["id"], m2m["secret"])}
        form = {"grant_type": "client_credentials", "resource": MANAGEMENT_API, "scope": "all"}
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/oidc/token", headers=auth, data=form).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            log(f"creating {args.users} users")
            created: list[str] = []

            def create() -> httpx.Response:
                n = len(created)
                response = client.post(
                    "/api/users",
                    json={"username": f"user{n}", "primaryEmail": f"user{n}@example.com",
                          "name": f"User Number {n}"},
                )  # fmt: skip
                created.append(response.json()["id"])
                return response

            results.append(row("POST /api/users (audited write)", timed(args.users, create)))
            n = args.count
            results.append(row(
                "GET /api/users?page_size=20",
                timed(n, lambda: client.get("/api/users", params={"page_size": 20})),
            ))  # fmt: skip
            results.append(row(
                "GET /api/users?search=%Number 1%",
                timed(n, lambda: client.get("/api/users", params={"search": "%Number 1%"})),
            ))  # fmt: skip
            results.append(row(
                "GET /api/users?search.primaryEmail=… exact",
                timed(n, lambda: client.get("/api/users", params={
                    "search.primaryEmail": "user7@example.com", "mode": "exact"})),
            ))  # fmt: skip
            results.append(row(
                "GET /api/users/:id",
                timed(n, lambda: client.get(f"/api/users/{created[len(created) // 2]}")),
            ))  # fmt: skip
            results.append(row(
                "GET /api/logs?userId=…",
                timed(n, lambda: client.get("/api/logs", params={"userId": created[-1]})),
            ))  # fmt: skip
            results.append(row(
                "GET /api/logs?logKey=ManagementApi.CreateUser",
                timed(n, lambda: client.get("/api/logs", params={
                    "logKey": "ManagementApi.CreateUser"})),
            ))  # fmt: skip
            client.headers.pop("Authorization")
            results.append(row(
                "POST /oidc/token client_credentials",
                timed(n, lambda: client.post("/oidc/token", headers=auth, data=form)),
            ))  # fmt: skip
    finally:
        server.stop()
    print(f"{'figure (SQLite, 1 worker, sequential)':<44} {'p50':>8} / p99")
    for line in results:
        print(line)
    print(f"users in the tenant: {args.users}; audit entries: about {args.users + args.count + 1}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
