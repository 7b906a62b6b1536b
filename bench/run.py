#!/usr/bin/env python3
"""Side-by-side benchmark: Portico vs panva's oidc-provider (the engine inside Logto).

Prints figures only; it never asserts on time. See bench/README.md.

    python bench/run.py [--duration 10] [--connections 16] [--flows 50] [--no-peer]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from load import Request, Result, run_load, wrk_available
from procs import Server

BENCH = Path(__file__).resolve().parent
PEER_DIR = BENCH / ".peer"
RESOURCE = "https://default.logto.app/api"
REDIRECT = "http://localhost:3000/callback"
USERNAME, PASSWORD = "bench", "bench-password-123"


# Figures also measured with Portico on PostgreSQL (the peer keeps these in memory).
PG_FIGURES = ("refresh", "userinfo", "introspection")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


FORM = "application/x-www-form-urlencoded"


@dataclass
class Row:
    figure: str
    portico: str = "—"
    peer: str = "—"
    ratio: str = "—"
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, figure: str, portico: float | None, peer: float | None, fmt: str, note: str = ""):
        p = fmt.format(portico) if portico is not None else "—"
        q = fmt.format(peer) if peer is not None else "—"
        ratio = f"{portico / peer:.2f}" if portico and peer else "—"
        self.rows.append(Row(figure, p, q, ratio, note))

    def print(self) -> None:
        head = Row("figure", "Portico", "oidc-provider", "Portico/peer", "note")
        cols = [head, *self.rows]
        w = [max(len(getattr(r, a)) for r in cols) for a in ("figure", "portico", "peer", "ratio")]
        print()
        for i, r in enumerate(cols):
            print(
                f"{r.figure:<{w[0]}}  {r.portico:>{w[1]}}  {r.peer:>{w[2]}}  "
                f"{r.ratio:>{w[3]}}  {r.note}".rstrip()
            )
            if i == 0:
                print("  ".join("-" * x for x in w) + "  ----")
        if self.details:
            print("\nload runs (2xx/s, total, non-2xx+errors, p50, p99):")
            for d in self.details:
                print("  " + d)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- Portico setup


def portico_cli(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        ["portico", *args, "--json"],
        capture_output=True, text=True, timeout=60, check=True, env={**os.environ, **(env or {})},
    ).stdout  # fmt: skip
    return json.loads(out)


def start_portico(
    data: Path, port: int, workers: int, logs: Path, env: dict[str, str] | None = None
) -> Server:
    env = {**os.environ, **(env or {}), "PORTICO_ENDPOINT": f"http://127.0.0.1:{port}"}
    argv = ["portico", "serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    name = f"portico-w{workers}" + ("-pg" if "DATABASE_URL" in env else "")
    return Server(name, argv, env, logs / f"{name}.log")


def prepare_portico(data: Path, env: dict[str, str] | None = None) -> tuple[dict, dict]:
    """An M2M app with Management API access, the bench user and a web app: (m2m, web)."""
    m2m = portico_cli(
        "app", "create", "--data-dir", str(data), "--name", "bench",
        "--type", "MachineToMachine", "--role", "Logto Management API access", env=env,
    )  # fmt: skip
    portico_cli(
        "user", "create", "--data-dir", str(data), "--username", USERNAME,
        "--password", PASSWORD, env=env,
    )  # fmt: skip
    web = portico_cli(
        "app", "create", "--data-dir", str(data), "--name", "web", "--type", "Traditional",
        "--redirect-uri", REDIRECT, env=env,
    )  # fmt: skip
    return m2m, web


def argon2_verify_ms(samples: int = 15) -> float:
    """Median time of one Argon2id verification (OWASP parameters, as the server's)."""
    import asyncio
    import statistics

    from portico.services.passwords import hash_password, verify_password

    async def run() -> float:
        encrypted, method = await hash_password(PASSWORD)
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            await verify_password(encrypted, method, PASSWORD)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    return asyncio.run(run())


def scratch_postgres(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the server of ``admin_url``, and how to drop it."""
    import asyncio
    import uuid

    import asyncpg

    name = f"portico_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url.replace("postgresql://", "postgres://"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    return url, lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _store_cookies(jar: dict[str, str], response: httpx.Response) -> None:
    for raw in response.headers.get_list("set-cookie"):
        name, _, rest = raw.partition("=")
        value = rest.split(";", 1)[0]
        expired = re.search(r"max-age=0\b", raw, re.I) or value == ""
        if expired:
            jar.pop(name.strip(), None)
        else:
            jar[name.strip()] = value


def auth_code_flow(
    client: httpx.Client,
    base: str,
    web_id: str,
    web_secret: str,
    scope: str = "openid profile offline_access",
) -> dict:
    """One full authorization-code flow with a fresh cookie jar; returns the token response."""
    jar: dict[str, str] = {}

    def send(method: str, url: str, **kw) -> httpx.Response:
        if url.startswith("/"):
            url = base + url
        headers = kw.pop("headers", {})
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        r = client.request(method, url, headers=headers, **kw)
        _store_cookies(jar, r)
        return r

    query = urlencode(
        {
            "client_id": web_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": scope,
            "prompt": "consent",
            "state": "x",
        }
    )
    r = send("GET", f"/oidc/auth?{query}")
    code = None
    for _ in range(12):  # bounded: redirects, sign-in page, consent page
        if r.status_code in (302, 303):
            loc = r.headers["location"]
            if loc.startswith(REDIRECT):
                params = parse_qs(urlsplit(loc).query)
                if "code" not in params:
                    raise RuntimeError(f"authorization failed: {loc}")
                code = params["code"][0]
                break
            r = send("GET", loc)
            continue
        if r.status_code == 200 and 'name="csrf_token"' in r.text:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
            if 'name="password"' in r.text:
                form = {"csrf_token": csrf, "identifier": USERNAME, "password": PASSWORD}
                r = send("POST", "/sign-in", data=form)
            else:
                r = send("POST", "/consent", data={"csrf_token": csrf, "decision": "allow"})
            continue
        raise RuntimeError(f"unexpected response {r.status_code} at {r.url}: {r.text[:200]}")
    if code is None:
        raise RuntimeError("authorization flow did not reach the redirect URI")
    r = client.post(
        base + "/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": basic(web_id, web_secret)},
    )
    r.raise_for_status()
    return r.json()


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))]


# --------------------------------------------------------------------------- peer setup


def ensure_peer() -> bool:
    entry = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if entry.exists():
        return True
    if not shutil.which("npm") or not shutil.which("node"):
        log("node/npm not found: peer figures skipped")
        return False
    log("installing oidc-provider@9 into bench/.peer ...")
    subprocess.run(
        ["npm", "install", "--prefix", str(PEER_DIR), "--no-audit", "--no-fund", "oidc-provider@9"],
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    return entry.exists()


def start_peer(port: int, workers: int, logs: Path) -> tuple[Server, dict]:
    env = {**os.environ, "PEER_MODULE_DIR": str(PEER_DIR), "NODE_ENV": "production"}
    argv = ["node", str(BENCH / "peer_server.mjs"), str(port), str(workers)]
    server = Server(f"peer-w{workers}", argv, env, logs / f"peer-w{workers}.log")
    info = json.loads(server.wait_log_line("READY ", timeout=30))
    return server, info


# --------------------------------------------------------------------------- figures


def requests_for(base: str, creds: dict) -> dict[str, Request]:
    """The load requests; creds holds m2m/web client credentials and tokens."""
    reqs = {
        "client_credentials": Request(
            "POST",
            base + "/oidc/token",
            {"Authorization": basic(*creds["m2m"]), "Content-Type": FORM},
            urlencode({"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"}),
        ),
        "discovery": Request("GET", base + "/oidc/.well-known/openid-configuration"),
        "jwks": Request("GET", base + "/oidc/jwks"),
    }
    if creds.get("access_token"):
        reqs["userinfo"] = Request(
            "GET", base + "/oidc/me", {"Authorization": f"Bearer {creds['access_token']}"}
        )
        reqs["introspection"] = Request(
            "POST",
            base + "/oidc/token/introspection",
            {"Authorization": basic(*creds["web"]), "Content-Type": FORM},
            urlencode({"token": creds["access_token"]}),
        )
    if creds.get("refresh_token"):
        reqs["refresh"] = Request(
            "POST",
            base + "/oidc/token",
            {"Authorization": basic(*creds["web"]), "Content-Type": FORM},
            urlencode({"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}),
        )
    return reqs


def sanity(req: Request, name: str, who: str) -> None:
    """One request before loading: the figure must measure successes, not errors."""
    r = httpx.request(
        req.method, req.url, headers=req.headers, content=req.body or None, timeout=10
    )
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"{who} {name}: HTTP {r.status_code}: {r.text[:300]}")
    if name == "client_credentials":
        tok = r.json()["access_token"]
        header = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "=="))
        if header.get("alg") != "ES384":
            raise RuntimeError(f"{who}: client-credentials token alg {header.get('alg')}")
    if name == "introspection" and r.json().get("active") is not True:
        raise RuntimeError(f"{who} introspection: token not active: {r.text[:200]}")
    if name == "refresh":
        body = r.json()
        if body.get("refresh_token") != parse_qs(req.body)["refresh_token"][0]:
            log(f"{who}: refresh token was rotated; later refreshes would fail (figure invalid)")


def measure(
    report: Report,
    who: str,
    name: str,
    req: Request,
    args: argparse.Namespace,
    use_wrk: bool,
    server: Server,
) -> tuple[Result, float]:
    """One load run: the result, and the 2xx answers per CPU-second the server used."""
    sanity(req, name, who)
    if args.warmup > 0:
        run_load(req, args.warmup, args.connections, args.threads, use_wrk)
    log(f"{who}: {name} for {args.duration:g}s x {args.connections} connections")
    cpu_before = server.cpu_seconds()
    res = run_load(req, args.duration, args.connections, args.threads, use_wrk)
    cpu = server.cpu_seconds() - cpu_before
    per_cpu = res.ok_per_s * res.seconds / cpu if cpu > 0 else 0.0
    p50 = f"{res.p50_ms:.2f}ms" if res.p50_ms is not None else "?"
    p99 = f"{res.p99_ms:.2f}ms" if res.p99_ms is not None else "?"
    report.details.append(
        f"{who:<16} {name:<20} {res.ok_per_s:>9.1f}/s  n={res.total:<7} bad={res.bad:<5} "
        f"p50={p50:<9} p99={p99:<9} server CPU {100 * cpu / res.seconds:.0f}%"
    )
    return res, per_cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark Portico against panva's oidc-provider (prints figures only)."
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per load figure")
    ap.add_argument("--connections", type=int, default=16, help="concurrent connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per figure")
    ap.add_argument("--flows", type=int, default=50, help="sequential auth-code flows")
    ap.add_argument("--port", type=int, default=18080, help="Portico port (peer uses port+1)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every figure this many times, Portico and peer back to back each "
        "round; the table gives the medians",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip oidc-provider")
    ap.add_argument("--no-cluster", action="store_true", help="skip the 2-process figures")
    ap.add_argument("--python-load", action="store_true", help="use the Python load generator")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data + logs)")
    ap.add_argument(
        "--postgres",
        default="",
        help="admin URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres): also measure "
        "refresh, userinfo and introspection with Portico on a scratch PostgreSQL database",
    )
    args = ap.parse_args(argv)

    use_wrk = wrk_available() and not args.python_load
    if not use_wrk and not args.python_load:
        log("wrk not found (apt-get install -y wrk); using the Python asyncio+httpx generator")
    if not shutil.which("portico"):
        log("the `portico` CLI is not on PATH; activate the venv first")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    data, logs = tmp / "data", tmp / "logs"
    logs.mkdir()
    pport, qport = args.port, args.port + 1
    pbase, qbase = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{qport}"
    report = Report()
    servers: list[Server] = []
    cleanups: list[Callable[[], None]] = []
    fig: dict[str, dict[str, float | None]] = {}

    def put(key: str, who: str, value: float | None) -> None:
        fig.setdefault(key, {"portico": None, "peer": None})[who] = value

    try:
        # ---------------------------------------------------------------- Portico, 1 process
        log(f"preparing Portico data dir {data}")
        m2m, web = prepare_portico(data)

        srv = start_portico(data, pport, 1, logs)
        servers.append(srv)
        cold = srv.wait_http(pbase + "/api/status", 204)
        put("cold", "portico", cold)
        time.sleep(1.0)
        put("rss_idle", "portico", srv.rss_kib() / 1024)
        log(f"Portico ready in {cold:.2f}s (pid {srv.pid})")

        flows: list[float] = []
        tokens: dict = {}
        with httpx.Client(timeout=30, follow_redirects=False) as client:
            # One flow first, not counted: the first after start fills every cache and
            # compiles every statement (~80 ms), which made the p99 of 50 the cold start's.
            first = time.perf_counter()
            auth_code_flow(client, pbase, web["id"], web["secret"])
            put("flow_first", "portico", (time.perf_counter() - first) * 1000)
            deadline = time.perf_counter() + 120
            for _ in range(args.flows):
                if time.perf_counter() > deadline:
                    log("auth-code flow loop hit its 120s bound")
                    break
                t0 = time.perf_counter()
                tokens = auth_code_flow(client, pbase, web["id"], web["secret"])
                flows.append((time.perf_counter() - t0) * 1000)
        if flows:
            put("flow_p50", "portico", percentile(flows, 0.5))
            put("flow_p99", "portico", percentile(flows, 0.99))
            verify = argon2_verify_ms()
            put("argon2", "portico", verify)
            put("flow_p50_net", "portico", percentile(flows, 0.5) - verify)
            put("flow_p99_net", "portico", percentile(flows, 0.99) - verify)

        pcreds = {
            "m2m": (m2m["id"], m2m["secret"]),
            "web": (web["id"], web["secret"]),
            "access_token": tokens.get("access_token"),
            "refresh_token": tokens.get("refresh_token"),
        }
        # Every server of the figures is started first and stays up (idle between its runs),
        # so that each figure is measured on Portico and on the peer back to back, round
        # after round: this machine's speed drifts by tens of percent over minutes (other
        # tenants of the host), and a ratio of figures taken minutes apart carried that drift.
        subjects: list[tuple[str, str, Server, dict[str, Request]]] = [
            ("portico", "", srv, requests_for(pbase, pcreds))
        ]

        # ---------------------------------------------------------------- Portico on PostgreSQL
        if args.postgres:
            url, drop = scratch_postgres(args.postgres)
            cleanups.append(drop)
            pg = {"DATABASE_URL": url}
            pg_m2m, pg_web = prepare_portico(tmp / "data-pg", pg)
            gport = args.port + 2
            gbase = f"http://127.0.0.1:{gport}"
            srv_pg = start_portico(tmp / "data-pg", gport, 1, logs, pg)
            servers.append(srv_pg)
            srv_pg.wait_http(gbase + "/api/status", 204)
            with httpx.Client(timeout=30, follow_redirects=False) as client:
                pg_tokens = auth_code_flow(client, gbase, pg_web["id"], pg_web["secret"])
            pg_creds = {
                "m2m": (pg_m2m["id"], pg_m2m["secret"]),
                "web": (pg_web["id"], pg_web["secret"]),
                "access_token": pg_tokens["access_token"],
                "refresh_token": pg_tokens["refresh_token"],
            }
            pg_reqs = requests_for(gbase, pg_creds)
            subjects.append(("portico (pg)", "_pg", srv_pg, {n: pg_reqs[n] for n in PG_FIGURES}))

        # ---------------------------------------------------------------- peer, 1 process
        peer_ok = not args.no_peer and ensure_peer()
        if peer_ok:
            q, info = start_peer(qport, 1, logs)
            servers.append(q)
            put("cold", "peer", q.wait_http(qbase + "/status", 204))
            time.sleep(1.0)
            put("rss_idle", "peer", q.rss_kib() / 1024)
            qcreds = {
                "m2m": (info["m2m"]["id"], info["m2m"]["secret"]),
                "web": (info["web"]["id"], info["web"]["secret"]),
                "access_token": info["accessToken"],
                "refresh_token": info["refreshToken"],
            }
            subjects.append(("peer", "", q, requests_for(qbase, qcreds)))

        # ---------------------------------------------------------------- the load figures
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_no in range(1, args.rounds + 1):
            if peer_ok and round_no > 1:
                # The peer's store is an LRU of 1,000 entries: the last round's refresh run
                # evicted its access token (Portico's stays stored until it expires).
                fresh = httpx.post(qbase + "/bench/mint", timeout=10).json()
                qcreds["access_token"] = fresh["accessToken"]
                qcreds["refresh_token"] = fresh["refreshToken"]
                subjects = [
                    (w, sx, sv, requests_for(qbase, qcreds) if w == "peer" else rq)
                    for w, sx, sv, rq in subjects
                ]
            for name in requests_for(pbase, pcreds):
                for who, suffix, server, reqs in subjects:
                    if name in reqs:
                        label = who if args.rounds == 1 else f"{who} r{round_no}"
                        res, per_cpu = measure(
                            report, label, name, reqs[name], args, use_wrk, server
                        )
                        key = (name + suffix, "peer" if who == "peer" else "portico")
                        runs.setdefault(key, []).append((res.ok_per_s, per_cpu))
        for (key, who), values in runs.items():
            put(key, who, statistics.median(v[0] for v in values))
            if not key.endswith("_pg"):
                put(f"{key}_cpu", who, statistics.median(v[1] for v in values))
        put("rss_load", "portico", srv.rss_kib() / 1024)
        if peer_ok:
            put("rss_load", "peer", q.rss_kib() / 1024)
        for _, _, server, _ in subjects:
            server.stop()

        # ---------------------------------------------------------------- 2 processes each
        if not args.no_cluster:
            srv2 = start_portico(data, pport, 2, logs)
            servers.append(srv2)
            srv2.wait_http(pbase + "/api/status", 204)
            time.sleep(1.0)
            req = requests_for(pbase, pcreds)["client_credentials"]
            res, per_cpu = measure(
                report, "portico -w2", "client_credentials", req, args, use_wrk, srv2
            )
            put("cc2", "portico", res.ok_per_s)
            put("cc2_cpu", "portico", per_cpu)
            srv2.stop()
            if peer_ok:
                q2, info2 = start_peer(qport, 2, logs)
                servers.append(q2)
                q2.wait_http(qbase + "/status", 204)
                time.sleep(1.0)
                creds2 = {"m2m": (info2["m2m"]["id"], info2["m2m"]["secret"])}
                req = requests_for(qbase, creds2)["client_credentials"]
                res, per_cpu = measure(
                    report, "peer cluster 2", "client_credentials", req, args, use_wrk, q2
                )
                put("cc2", "peer", res.ok_per_s)
                put("cc2_cpu", "peer", per_cpu)
                q2.stop()
    finally:
        for s in reversed(servers):
            with contextlib.suppress(Exception):
                s.stop()
        for cleanup in cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for name in PG_FIGURES:  # the peer keeps them in memory
        if f"{name}_pg" in fig:
            fig[f"{name}_pg"]["peer"] = fig.get(name, {}).get("peer")

    def g(key: str, who: str) -> float | None:
        return fig.get(key, {}).get(who)

    rows = [
        ("client-credentials tokens/s (1 proc)", "client_credentials", "{:.0f}", "ES384 JWT"),
        ("client-credentials tokens/s (2 procs)", "cc2", "{:.0f}", "--workers 2 / node:cluster"),
        ("discovery/s", "discovery", "{:.0f}", ""),
        ("JWKS/s", "jwks", "{:.0f}", ""),
        ("userinfo/s", "userinfo", "{:.0f}", "opaque AT"),
        ("introspection/s", "introspection", "{:.0f}", "opaque AT"),
        ("refresh/s", "refresh", "{:.0f}", "Portico on SQLite; peer in-memory"),
        ("userinfo/s, Portico on PostgreSQL", "userinfo_pg", "{:.0f}", "vs peer in-memory"),
        ("introspection/s, Portico on PostgreSQL", "introspection_pg", "{:.0f}", ""),
        ("refresh/s, Portico on PostgreSQL", "refresh_pg", "{:.0f}", "vs peer in-memory"),
        ("first auth-code flow after start, ms", "flow_first", "{:.1f}", "not in p50/p99"),
        ("auth-code flow p50 ms (sequential)", "flow_p50", "{:.1f}", "incl. Argon2id sign-in"),
        ("auth-code flow p99 ms (sequential)", "flow_p99", "{:.1f}", "peer: no sign-in UI"),
        ("  same, excluding the Argon2id verify, p50", "flow_p50_net", "{:.1f}", ""),
        ("  same, excluding the Argon2id verify, p99", "flow_p99_net", "{:.1f}", ""),
        ("Argon2id verify ms (median)", "argon2", "{:.1f}", "m=19 MiB, t=2, p=1"),
        ("cold start to first 2xx, s", "cold", "{:.2f}", ""),
        ("RSS idle, MiB", "rss_idle", "{:.1f}", "VmRSS, process group"),
        ("RSS after load, MiB", "rss_load", "{:.1f}", ""),
    ]
    per_cpu_rows = [
        ("client-credentials (1 proc)", "client_credentials_cpu"),
        ("client-credentials (2 procs)", "cc2_cpu"),
        ("discovery", "discovery_cpu"),
        ("JWKS", "jwks_cpu"),
        ("userinfo", "userinfo_cpu"),
        ("introspection", "introspection_cpu"),
        ("refresh", "refresh_cpu"),
    ]
    rows += [(f"per server CPU-second: {label}", key, "{:.0f}", "") for label, key in per_cpu_rows]
    for label, key, fmt, note in rows:
        if key in fig:
            report.add(label, g(key, "portico"), g(key, "peer"), fmt, note)
    gen = "wrk" if use_wrk else "python asyncio+httpx"
    print(
        f"\nPortico vs oidc-provider - {os.cpu_count()} CPUs, load generator {gen} "
        f"({args.connections} connections, {args.duration:g}s per figure, shares the CPUs)"
    )
    if flows:
        print(f"auth-code flows: {len(flows)} sequential, each a fresh sign-in")
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
