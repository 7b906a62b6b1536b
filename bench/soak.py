#!/usr/bin/env python3
"""Soak run: a bounded-time mixed load on one or more ``portico serve`` processes, printing
throughput, errors and each process's RSS as it goes, then a per-operation summary.

Prints figures only; it never asserts on time. Exit status 1 when any request failed.
See bench/README.md.

    python bench/soak.py [--duration 60] [--interval 5] [--threads 8] [--processes 2]
                         [--workers 1] [--database-url postgresql://...] [--redis-url redis://...]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from procs import Server
from run import (
    PASSWORD,
    REDIRECT,
    RESOURCE,
    USERNAME,
    _store_cookies,
    auth_code_flow,
    basic,
    log,
    percentile,
    portico_cli,
)

# Operation -> weight in the mix. Sign-in and sign-up hash a password (Argon2id, ~50 ms of
# CPU), so they are rare, as in real traffic; the rest are the hot protocol reads and grants.
MIX = {
    "client_credentials": 20,
    "discovery": 10,
    "jwks": 10,
    "userinfo": 20,
    "refresh": 15,
    "introspect": 10,
    "management_api": 8,
    "sign_in": 4,
    "sign_up": 3,
}
STRONG = "violet-harbour-cactus-49"


@dataclass
class Tally:
    """Counts and latencies, shared by the load threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    first_errors: list[str] = field(default_factory=list)

    def record(self, op: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.done[op] += 1
            if error:
                self.errors[op] += 1
                if len(self.first_errors) < 10:
                    self.first_errors.append(f"{op}: {error}")
            elif len(self.samples[op]) < 100_000:
                self.samples[op].append(seconds * 1000)

    def total(self) -> tuple[int, int]:
        with self.lock:
            return sum(self.done.values()), sum(self.errors.values())


@dataclass
class Fixtures:
    m2m_id: str
    m2m_secret: str
    web_id: str
    web_secret: str
    access_token: str
    refresh_token: str
    api_token: str


class Operations:
    """One method per operation of :data:`MIX`; each raises on anything but success."""

    def __init__(self, client: httpx.Client, bases: list[str], fx: Fixtures) -> None:
        self.client, self.bases, self.fx = client, bases, fx

    def base(self) -> str:
        return random.choice(self.bases)

    @staticmethod
    def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
        if response.status_code not in statuses:
            shown = re.search(r'class="error"[^>]*>([^<]*)', response.text)
            detail = shown.group(1) if shown else response.text[:120]
            raise RuntimeError(f"{response.status_code} {response.request.url.path}: {detail}")
        return response

    def client_credentials(self) -> None:
        self.expect(
            self.client.post(
                self.base() + "/oidc/token",
                data={"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"},
                headers={"Authorization": basic(self.fx.m2m_id, self.fx.m2m_secret)},
            ),
            200,
        )

    def discovery(self) -> None:
        self.expect(self.client.get(self.base() + "/oidc/.well-known/openid-configuration"), 200)

    def jwks(self) -> None:
        self.expect(self.client.get(self.base() + "/oidc/jwks"), 200)

    def userinfo(self) -> None:
        headers = {"Authorization": f"Bearer {self.fx.access_token}"}
        self.expect(self.client.get(self.base() + "/oidc/me", headers=headers), 200)

    def refresh(self) -> None:
        # A confidential client's token is echoed (not rotated) until 70 % of its lifetime.
        self.expect(
            self.client.post(
                self.base() + "/oidc/token",
                data={"grant_type": "refresh_token", "refresh_token": self.fx.refresh_token},
                headers={"Authorization": basic(self.fx.web_id, self.fx.web_secret)},
            ),
            200,
        )

    def introspect(self) -> None:
        response = self.expect(
            self.client.post(
                self.base() + "/oidc/token/introspection",
                data={"token": self.fx.access_token},
                headers={"Authorization": basic(self.fx.web_id, self.fx.web_secret)},
            ),
            200,
        )
        if response.json().get("active") is not True:
            raise RuntimeError("token reported inactive")

    def management_api(self) -> None:
        headers = {"Authorization": f"Bearer {self.fx.api_token}"}
        self.expect(self.client.get(self.base() + "/api/applications", headers=headers), 200)

    def sign_in(self) -> None:
        auth_code_flow(self.client, self.base(), self.fx.web_id, self.fx.web_secret)

    def sign_up(self) -> None:
        """A new account by username and password, through the hosted pages."""
        base, jar = self.base(), {}

        def send(method: str, path: str, **kwargs: object) -> httpx.Response:
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            response = self.client.request(
                method, base + path, headers={"Cookie": cookie} if jar else {}, **kwargs
            )
            _store_cookies(jar, response)
            return response

        query = urlencode({"client_id": self.fx.web_id, "redirect_uri": REDIRECT,
                           "response_type": "code", "scope": "openid",
                           "first_screen": "register"})  # fmt: skip
        page = send("GET", f"/oidc/auth?{query}")
        page = send("GET", self.expect(page, 303).headers["location"])
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', self.expect(page, 200).text)
        if csrf is None:
            raise RuntimeError("no registration form")
        form = {"csrf_token": csrf.group(1), "identifier": f"soak_{secrets.token_hex(6)}",
                "password": STRONG, "confirm": STRONG}  # fmt: skip
        done = self.expect(send("POST", "/register", data=form), 303)
        if not done.headers["location"].startswith("/oidc/auth/"):
            raise RuntimeError(f"registration went to {done.headers['location']}")


def load_thread(ops: Operations, tally: Tally, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    names, weights = list(MIX), list(MIX.values())
    while not stop.is_set():
        op = rng.choices(names, weights)[0]
        started = time.perf_counter()
        error = None
        try:
            getattr(ops, op)()
        except Exception as exc:  # counted, never fatal: a soak run reports them
            error = f"{type(exc).__name__}: {exc}"
        tally.record(op, time.perf_counter() - started, error)


def prepare(data: Path, env: dict[str, str], base: str) -> Fixtures:
    def cli(*args: str) -> dict:
        return portico_cli(*args, "--data-dir", str(data))

    m2m = cli("app", "create", "--name", "soak-m2m", "--type", "MachineToMachine",
              "--role", "Logto Management API access")  # fmt: skip
    web = cli("app", "create", "--name", "soak-web", "--type", "Traditional",
              "--redirect-uri", REDIRECT)  # fmt: skip
    cli("user", "create", "--username", USERNAME, "--password", PASSWORD)
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        tokens = auth_code_flow(client, base, web["id"], web["secret"])
        api = client.post(
            base + "/oidc/token",
            data={"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"},
            headers={"Authorization": basic(m2m["id"], m2m["secret"])},
        )
        api.raise_for_status()
    return Fixtures(m2m["id"], m2m["secret"], web["id"], web["secret"],
                    tokens["access_token"], tokens["refresh_token"],
                    api.json()["access_token"])  # fmt: skip


def report(tally: Tally, elapsed: float, rss: dict[str, list[float]]) -> None:
    heads = ("count", "errors", "per s", "p50 ms", "p99 ms")
    print(f"\n{'operation':<20} " + " ".join(f"{h:>8}" for h in heads))
    for op in MIX:
        done, errors, samples = tally.done[op], tally.errors[op], tally.samples[op]
        p50 = f"{percentile(samples, 0.5):8.1f}" if samples else f"{'—':>8}"
        p99 = f"{percentile(samples, 0.99):8.1f}" if samples else f"{'—':>8}"
        print(f"{op:<20} {done:>8} {errors:>8} {done / elapsed:>8.1f} {p50} {p99}")
    total, errors = tally.total()
    print(f"{'all':<20} {total:>8} {errors:>8} {total / elapsed:>8.1f}")
    for name, values in rss.items():
        if values:
            print(f"RSS {name}: start {values[0]:.1f} MB, end {values[-1]:.1f} MB, "
                  f"max {max(values):.1f} MB")  # fmt: skip
    for line in tally.first_errors:
        print(f"error: {line}")


def run(args: argparse.Namespace) -> int:
    if not shutil.which("portico"):
        log("the `portico` CLI is not on PATH; activate the venv first")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="portico-soak-"))
    data, logs = tmp / "data", tmp / "logs"
    logs.mkdir()
    ports = [args.port + i for i in range(args.processes)]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    env = {**os.environ, "PORTICO_ENDPOINT": bases[0], "PORTICO_DATA_DIR": str(data),
           "PORTICO_LOG_LEVEL": "warning"}  # fmt: skip
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["PORTICO_REDIS_URL"] = args.redis_url
    os.environ.update({k: v for k, v in env.items() if k.startswith(("PORTICO_", "DATABASE"))})
    servers: list[Server] = []
    stop = threading.Event()
    try:
        for i, port in enumerate(ports):
            argv = ["portico", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", str(args.workers)]  # fmt: skip
            server = Server(f"portico-{i}", argv, env, logs / f"portico-{i}.log")
            servers.append(server)
            server.wait_http(bases[i] + "/api/status", 204, timeout=60)
        log(f"{len(servers)} process(es) ready; preparing fixtures")
        fixtures = prepare(data, env, bases[0])
        tally = Tally()
        rss: dict[str, list[float]] = {s.name: [s.rss_kib() / 1024] for s in servers}
        clients = [httpx.Client(timeout=30, follow_redirects=False) for _ in range(args.threads)]
        threads = [
            threading.Thread(target=load_thread, args=(Operations(c, bases, fixtures), tally,
                                                       stop, i), daemon=True)
            for i, c in enumerate(clients)
        ]  # fmt: skip
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        print(f"{'t s':>6} {'req/s':>8} {'errors':>7}  RSS MB per process")
        last_total, last_time = 0, started
        while (now := time.perf_counter()) - started < args.duration:
            time.sleep(min(args.interval, max(0.0, args.duration - (now - started))))
            now = time.perf_counter()
            total, errors = tally.total()
            for server in servers:
                rss[server.name].append(server.rss_kib() / 1024)
            sizes = "  ".join(f"{s.name}={rss[s.name][-1]:.1f}" for s in servers)
            rate = (total - last_total) / (now - last_time)
            print(f"{now - started:6.0f} {rate:8.1f} {errors:7d}  {sizes}", flush=True)
            last_total, last_time = total, now
        stop.set()
        for thread in threads:
            thread.join(30)
        elapsed = time.perf_counter() - started
        for client in clients:
            client.close()
        report(tally, elapsed, rss)
        return 1 if tally.total()[1] else 0
    finally:
        stop.set()
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Bounded-time mixed load on Portico (figures only).")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between lines")
    ap.add_argument("--threads", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--processes", type=int, default=1, help="portico serve instances")
    ap.add_argument("--workers", type=int, default=1, help="--workers of each instance")
    ap.add_argument("--port", type=int, default=18180, help="first port (then +1, +2, ...)")
    ap.add_argument("--database-url", help="shared database (default: SQLite in a temp dir)")
    ap.add_argument("--redis-url", help="Redis for cache invalidation between processes")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data + logs)")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
