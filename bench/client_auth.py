#!/usr/bin/env python3
"""Client credentials at /oidc/token with three ways for the client to authenticate or bind:
a client secret (``client_secret_basic``), ``private_key_jwt`` (RFC 7523: a fresh ES256
assertion per request, whose ``jti`` the server stores in its replay cache) and a client
secret with DPoP (RFC 9449: a fresh ES256 proof per request, server nonce required, ``jti``
stored too). Prints tokens/s, p50 and p99 side by side. Never asserts on time.

The assertions and proofs are signed before each timed run (in this process, with
``cryptography``), written one per line into a file per wrk thread, and taken in turn by a
Lua ``request()``: signing is not part of the timed phase. Both kinds stay valid for five
minutes (the assertion's ``exp``, the proof's ``iat`` window, the nonce's two windows), and
each pool is used within seconds of being signed.

    python bench/client_auth.py                 # Portico on SQLite + oidc-provider, ~1.5 min
    python bench/client_auth.py --db both       # + Portico on a scratch PostgreSQL database
    python bench/client_auth.py --no-peer       # Portico only
    python bench/client_auth.py --duration 20 --connections 32 --rounds 3
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from load import parse_wrk, wrk_available
from procs import Server
from run import FORM, RESOURCE, basic, log, portico_cli, scratch_postgres, start_portico

BENCH = Path(__file__).resolve().parent
PEER_DIR = BENCH / ".peer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
METHODS = ("secret", "private_key_jwt", "dpop")
METHOD_LABEL = {
    "secret": "client_secret_basic",
    "private_key_jwt": "private_key_jwt",
    "dpop": "secret + DPoP",
}
CC_FORM = {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "all"}


# --------------------------------------------------------------------------- JWTs


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _compact(raw: dict) -> bytes:
    return _b64(json.dumps(raw, separators=(",", ":")).encode())


class Signer:
    """An EC P-256 key signing ES256 compact JWTs with ``cryptography`` directly (about
    four times as fast as through a JOSE library: the pools are signed before the runs)."""

    def __init__(self, kid: str | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = kid

    def public_jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")).decode(),
            "y": _b64(numbers.y.to_bytes(32, "big")).decode(),
        }
        return {**jwk, "kid": self.kid} if self.kid else jwk

    def sign(self, header_b64: bytes, claims: dict) -> str:
        signing_input = header_b64 + b"." + _compact(claims)
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return (signing_input + b"." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))).decode()

    def assertions(self, client_id: str, audience: str, count: int) -> list[str]:
        """RFC 7523 client assertions, each with its own jti (exp: five minutes)."""
        header = _compact({"alg": "ES256", "typ": "JWT", "kid": self.kid})
        now = int(time.time())
        base = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 300}
        return [self.sign(header, {**base, "jti": uuid.uuid4().hex}) for _ in range(count)]

    def proofs(self, htu: str, nonce: str | None, count: int) -> list[str]:
        """RFC 9449 proofs for POST htu, each with its own jti."""
        header = _compact({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()})
        base: dict = {"htm": "POST", "htu": htu, "iat": int(time.time())}
        if nonce:
            base["nonce"] = nonce
        return [self.sign(header, {**base, "jti": uuid.uuid4().hex}) for _ in range(count)]


# --------------------------------------------------------------------------- wrk with a pool

# One Lua state per wrk thread: setup() (main state) numbers the threads, init() reads the
# thread's own file of assertions or proofs, request() takes the next one. A thread that runs
# out starts again at its first line (replays: the server refuses them, counted as non-2xx)
# and counts how many it sent so ("OVER n" in done()).
LUA = r"""
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

items = {}
pos = 0
sent = 0
over = 0
local mode = %(mode)s
local path = %(path)s
local body = %(body)s
local body_prefix = %(body_prefix)s
local auth = %(auth)s
local host = %(host)s

function init(args)
  if mode ~= "secret" then
    for line in io.lines(%(dir)s .. "/" .. id .. ".txt") do items[#items + 1] = line end
  end
end

function request()
  local headers = {["Host"] = host, ["Content-Type"] = "application/x-www-form-urlencoded"}
  local b = body
  if mode ~= "secret" then
    pos = pos + 1
    if pos > #items then pos = 1 end
    sent = sent + 1
    if sent > #items then over = over + 1 end
  end
  if mode == "private_key_jwt" then
    b = body_prefix .. items[pos]
  else
    headers["Authorization"] = auth
    if mode == "dpop" then headers["DPoP"] = items[pos] end
  end
  return wrk.format("POST", path, headers, b)
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("over") or 0) end
  io.write("OVER " .. n .. "\n")
end
"""


def _lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for ASCII


@dataclass
class Result:
    ok_per_s: float
    total: int
    bad: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    over: int  # requests sent after a thread's pool ran out (replays)
    cpu_s: float = 0.0

    @property
    def per_cpu(self) -> float:
        return self.ok_per_s * self.seconds / self.cpu_s if self.cpu_s > 0 else 0.0


@dataclass
class Target:
    """One server and the credentials of its two clients."""

    name: str
    server: Server
    base: str  # http://127.0.0.1:P
    issuer: str  # base + /oidc
    secret_client: tuple[str, str]  # client_secret_basic (and DPoP)
    key_client: str  # private_key_jwt
    signer: Signer  # the key_client's registered key
    nonce: str | None = None  # DPoP nonce from the last answer
    results: dict[str, list[Result]] = field(default_factory=dict)

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"


def write_pool(directory: Path, items: list[str], threads: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for t in range(threads):
        (directory / f"{t}.txt").write_text("\n".join(items[t::threads]) + "\n")


def run_wrk(
    target: Target, mode: str, pool_dir: Path, duration: float, connections: int, threads: int
) -> Result:
    script_text = LUA % {
        "mode": _lua_str(mode),
        "path": _lua_str("/oidc/token"),
        "body": _lua_str(urlencode(CC_FORM)),
        "body_prefix": _lua_str(
            urlencode({**CC_FORM, "client_assertion_type": ASSERTION_TYPE}) + "&client_assertion="
        ),
        "auth": _lua_str(basic(*target.secret_client)),
        "host": _lua_str(target.base.removeprefix("http://")),
        "dir": _lua_str(str(pool_dir)),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script_text)
        script = f.name
    cpu_before = target.server.cpu_seconds()
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
             "--timeout", "10s", "--latency", "-s", script, target.token_url],
            capture_output=True, text=True, timeout=duration + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script).unlink(missing_ok=True)
    cpu = target.server.cpu_seconds() - cpu_before
    parsed = parse_wrk(out)
    over = re.search(r"^OVER (\d+)", out, re.M)
    return Result(
        ok_per_s=parsed.ok_per_s,
        total=parsed.total,
        bad=parsed.bad,
        seconds=parsed.seconds,
        p50_ms=parsed.p50_ms,
        p99_ms=parsed.p99_ms,
        over=int(over.group(1)) if over else 0,
        cpu_s=cpu,
    )


# --------------------------------------------------------------------------- one request each


def _post(target: Target, mode: str, item: str | None) -> httpx.Response:
    headers = {"Content-Type": FORM}
    form = dict(CC_FORM)
    if mode == "private_key_jwt":
        form |= {"client_assertion_type": ASSERTION_TYPE, "client_assertion": item or ""}
    else:
        headers["Authorization"] = basic(*target.secret_client)
        if mode == "dpop":
            headers["DPoP"] = item or ""
    return httpx.post(target.token_url, headers=headers, content=urlencode(form), timeout=10)


def _claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def check(target: Target, mode: str) -> None:
    """One request before loading (the figure must count tokens, not refusals); for DPoP the
    first proof goes without a nonce and must be answered ``use_dpop_nonce``."""
    item = None
    if mode == "private_key_jwt":
        item = target.signer.assertions(target.key_client, target.issuer, 1)[0]
    elif mode == "dpop":
        holder = Signer()
        first = _post(target, mode, holder.proofs(target.token_url, None, 1)[0])
        if first.status_code != 400 or first.json().get("error") != "use_dpop_nonce":
            raise RuntimeError(
                f"{target.name} DPoP without nonce: {first.status_code} {first.text}"
            )
        target.nonce = first.headers["dpop-nonce"]
        item = holder.proofs(target.token_url, target.nonce, 1)[0]
    r = _post(target, mode, item)
    if r.status_code != 200:
        raise RuntimeError(f"{target.name} {mode}: HTTP {r.status_code}: {r.text[:300]}")
    body = r.json()
    claims = _claims(body["access_token"])
    if mode == "dpop":
        if body.get("token_type") != "DPoP" or "jkt" not in claims.get("cnf", {}):
            raise RuntimeError(f"{target.name}: the DPoP token is not bound: {body}")
        # Portico sends its nonce on every answer; oidc-provider only when the proof's
        # nonce is no longer its newest (60 s steps, five of them accepted).
        if r.headers.get("dpop-nonce"):
            target.nonce = r.headers["dpop-nonce"]
        elif target.name.startswith("Portico"):
            raise RuntimeError(f"{target.name}: no DPoP-Nonce on a successful answer")
    elif body.get("token_type", "").lower() != "bearer":
        raise RuntimeError(f"{target.name} {mode}: token_type {body.get('token_type')}")


def make_pool(target: Target, mode: str, count: int) -> tuple[list[str], float]:
    """``count`` fresh assertions or proofs and the seconds their signing took."""
    t0 = time.perf_counter()
    if mode == "private_key_jwt":
        items = target.signer.assertions(target.key_client, target.issuer, count)
    else:
        items = Signer().proofs(target.token_url, target.nonce, count)
    return items, time.perf_counter() - t0


# --------------------------------------------------------------------------- Portico


def start_target_portico(
    name: str, data: Path, port: int, logs: Path, env: dict[str, str] | None = None
) -> Target:
    """Two M2M apps with the Management API role: one with a secret, one registered for
    private_key_jwt (its key set through the Management API, as a console would)."""
    secret_app = portico_cli(
        "app", "create", "--data-dir", str(data), "--name", "bench-secret",
        "--type", "MachineToMachine", "--role", "Logto Management API access", env=env,
    )  # fmt: skip
    key_app = portico_cli(
        "app", "create", "--data-dir", str(data), "--name", "bench-private-key-jwt",
        "--type", "MachineToMachine", "--role", "Logto Management API access", env=env,
    )  # fmt: skip
    server = start_portico(data, port, 1, logs, env)
    base = f"http://127.0.0.1:{port}"
    server.wait_http(base + "/api/status", 204)
    creds = (secret_app["id"], secret_app["secret"])
    signer = Signer(kid="bench-k1")
    token = httpx.post(
        base + "/oidc/token", headers={"Authorization": basic(*creds)}, data=CC_FORM, timeout=10
    ).json()["access_token"]
    r = httpx.patch(
        f"{base}/api/applications/{key_app['id']}",
        headers={"Authorization": f"Bearer {token}"},
        json={"oidcClientMetadata": {
            "redirectUris": [], "postLogoutRedirectUris": [],
            "tokenEndpointAuthMethod": "private_key_jwt", "jwks": {"keys": [signer.public_jwk()]},
        }},
        timeout=10,
    )  # fmt: skip
    if r.status_code != 200:
        raise RuntimeError(f"registering the key: {r.status_code} {r.text[:300]}")
    time.sleep(1.2)  # the server's client cache (1 s)
    return Target(name, server, base, base + "/oidc", creds, key_app["id"], signer)


# --------------------------------------------------------------------------- the peer

# oidc-provider 9 with the same three clients' setup; written into the temp dir and run with
# the module installed by bench/run.py (bench/.peer). In-memory adapter: its replay caches
# (client assertion jti, DPoP proof jti) are in memory.
PEER_JS = r"""
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [port, secretJwk] = [Number(process.argv[2]), JSON.parse(process.argv[3])];
const issuer = `http://127.0.0.1:${port}/oidc`;
const RESOURCE = 'https://default.logto.app/api';
const entry = path.join(
  process.env.PEER_MODULE_DIR, 'node_modules', 'oidc-provider', 'lib', 'index.js');
const { default: Provider } = await import(pathToFileURL(entry).href);
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const jwk = {
  ...privateKey.export({ format: 'jwk' }), kid: 'bench-es384', alg: 'ES384', use: 'sig' };
const SECRET = { id: 'bench-secret', secret: 'bench-secret-0123456789abcdef0123456789' };
const KEYED = 'bench-private-key-jwt';
const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [
    { client_id: SECRET.id, client_secret: SECRET.secret, grant_types: ['client_credentials'],
      response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: KEYED, grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [secretJwk] } },
  ],
  scopes: ['all'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'all', audience: RESOURCE, accessTokenTTL: 3600,
                 accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES384' } } };
      },
    },
  },
  clientDefaults: { id_token_signed_response_alg: 'ES384' },
  enabledJWA: { idTokenSigningAlgValues: ['ES384'], clientAuthSigningAlgValues: ['ES256'],
                dPoPSigningAlgValues: ['ES256'] },
  ttl: { AccessToken: 3600, ClientCredentials: 3600 },
});
provider.proxy = false;
const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === '/status') { res.statusCode = 204; res.end(); return; }
  if (req.url.startsWith('/oidc')) {
    req.originalUrl = req.url;
    req.url = req.url.slice(5) || '/';
    callback(req, res);
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${JSON.stringify({ secret: SECRET, keyed: KEYED })}\n`);
});
"""


def start_target_peer(port: int, tmp: Path, logs: Path) -> Target | None:
    entry = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not entry.exists():
        if not shutil.which("npm") or not shutil.which("node"):
            log("node/npm not found: no peer column")
            return None
        log("installing oidc-provider@9 into bench/.peer ...")
        subprocess.run(
            ["npm", "install", "--prefix", str(PEER_DIR), "--no-audit", "--no-fund",
             "oidc-provider@9"],
            check=True, timeout=300, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    script = tmp / "peer_client_auth.mjs"
    script.write_text(PEER_JS)
    signer = Signer(kid="bench-k1")
    env = {**os.environ, "PEER_MODULE_DIR": str(PEER_DIR), "NODE_ENV": "production"}
    argv = ["node", str(script), str(port), json.dumps(signer.public_jwk())]
    server = Server("peer", argv, env, logs / "peer.log")
    info = json.loads(server.wait_log_line("READY ", timeout=30))
    base = f"http://127.0.0.1:{port}"
    server.wait_http(base + "/status", 204)
    secret = (info["secret"]["id"], info["secret"]["secret"])
    return Target("oidc-provider", server, base, base + "/oidc", secret, info["keyed"], signer)


# --------------------------------------------------------------------------- main


def measure(target: Target, mode: str, args: argparse.Namespace, tmp: Path, rate: float) -> Result:
    """Check, sign a pool for the warm-up and the run (sized from ``rate``), warm up, run."""
    check(target, mode)
    name = f"{target.name}-{mode}".replace(" ", "_")
    pools = {"warm": tmp / f"pool-{name}-warm", "run": tmp / f"pool-{name}-run"}
    if mode != "secret":
        # Two pools: wrk starts each run at its file's first line.
        for phase, seconds in (("warm", args.warmup), ("run", args.duration)):
            if seconds <= 0:
                continue
            # At least 1,500/s: the machine's speed drifts between the runs.
            count = math.ceil(max(rate, 1500) * seconds * args.headroom) + 200 * args.threads
            items, took = make_pool(target, mode, count)
            write_pool(pools[phase], items, args.threads)
            if phase == "run":
                log(f"{target.name} {mode}: signed {count} in {took:.1f}s ({count / took:.0f}/s)")
                signed = Result(count / took, count, 0, took, None, None, 0)
                target.results.setdefault(f"{mode}_signed", []).append(signed)
    if args.warmup > 0:
        warm = run_wrk(target, mode, pools["warm"], args.warmup, args.connections, args.threads)
        if warm.over:
            log(f"{target.name} {mode}: the warm-up pool ran out ({warm.over} replays)")
    log(f"{target.name}: {mode} for {args.duration:g}s x {args.connections} connections")
    res = run_wrk(target, mode, pools["run"], args.duration, args.connections, args.threads)
    if res.over:
        log(f"{target.name} {mode}: the pool ran out; {res.over} replayed (counted as non-2xx)")
    target.results.setdefault(mode, []).append(res)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL; a scratch database is created and dropped on its server",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip oidc-provider 9 (in memory)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--rounds", type=int, default=1, help="runs per figure; the table: medians")
    ap.add_argument(
        "--headroom",
        type=float,
        default=2.0,
        help="pool size: this times the client-secret rate (at least 1,500/s) times the "
        "run's seconds",
    )
    ap.add_argument("--port", type=int, default=18180)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data + logs)")
    args = ap.parse_args(argv)
    if args.duration + args.warmup > 240:
        ap.error("a run must stay inside the 5-minute validity of its assertions and proofs")
    if not wrk_available():
        log("wrk is needed (apt-get install -y wrk)")
        return 2
    if not shutil.which("portico"):
        log("the `portico` CLI is not on PATH; activate the venv first")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-auth-"))
    logs = tmp / "logs"
    logs.mkdir()
    targets: list[Target] = []
    cleanups: list[Callable[[], None]] = []
    try:
        if args.db in ("sqlite", "both"):
            log("starting Portico on SQLite")
            targets.append(start_target_portico("Portico SQLite", tmp / "data", args.port, logs))
        if args.db in ("postgresql", "both"):
            url, drop = scratch_postgres(args.postgres_url)
            cleanups.append(drop)
            log(f"starting Portico on PostgreSQL ({url})")
            env = {"DATABASE_URL": url}
            targets.append(
                start_target_portico("Portico PG", tmp / "data-pg", args.port + 1, logs, env)
            )
        if not args.no_peer:
            peer = start_target_peer(args.port + 2, tmp, logs)
            if peer:
                targets.append(peer)
        # Each server is idle while another is loaded; every figure is measured on each
        # server back to back, round after round (this machine's speed drifts over minutes).
        for _ in range(args.rounds):
            for mode in METHODS:
                for target in targets:
                    rate = max((r.ok_per_s for r in target.results.get("secret", [])), default=0)
                    measure(target, mode, args, tmp, rate or 3000.0)
    finally:
        for target in targets:
            with contextlib.suppress(Exception):
                target.server.stop()
        for cleanup in cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_table(targets, args)
    return 0


def print_table(targets: list[Target], args: argparse.Namespace) -> None:
    def med(target: Target, mode: str, attr: str) -> float | None:
        values = [getattr(r, attr) for r in target.results.get(mode, [])]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    figures = [
        ("tokens/s", "ok_per_s", "{:.0f}"),
        ("p50 ms", "p50_ms", "{:.2f}"),
        ("p99 ms", "p99_ms", "{:.2f}"),
        ("tokens per server CPU-s", "per_cpu", "{:.0f}"),
    ]
    rows = [["", *(METHOD_LABEL[m] for m in METHODS), "pkjwt/secret", "DPoP/secret"]]
    for target in targets:
        for label, attr, fmt in figures:
            values = [med(target, m, attr) for m in METHODS]
            cells = [fmt.format(v) if v is not None else "—" for v in values]
            ratios = [f"{v / values[0]:.2f}" if v and values[0] else "—" for v in values[1:]]
            rows.append([f"{target.name} {label}", *cells, *ratios])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(
        f"\nclient credentials at /oidc/token by client authentication - {os.cpu_count()} CPUs, "
        f"wrk {args.connections} connections / {args.threads} threads, {args.duration:g}s per "
        f"run after {args.warmup:g}s warm-up (wrk shares the CPUs), {args.rounds} round(s), medians"
    )
    print(
        "assertions and DPoP proofs: ES256 (P-256), one per request, each with its own jti, "
        "pre-generated in the load-generator process before each run (not timed); "
        "proofs carry the nonce of the server's use_dpop_nonce answer"
    )
    print("ratios: each method's figure / client_secret_basic's (above 1: higher)\n")
    for i, r in enumerate(rows):
        cells = (f"{c:>{w}}" for c, w in zip(r[1:], widths[1:], strict=True))
        print(f"{r[0]:<{widths[0]}}  " + "  ".join(cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if any(r.over for t in targets for m in METHODS for r in t.results.get(m, [])):
        print("\nWARNING: a pool ran out (see below): raise --headroom; those figures are invalid")
    print("\nruns (2xx/s, total, non-2xx+errors, p50, p99, server CPU; pool signing rate):")
    for target in targets:
        for mode in METHODS:
            for r in target.results.get(mode, []):
                signed = target.results.get(f"{mode}_signed")
                sign = f"  signed at {signed[0].ok_per_s:.0f}/s" if signed else ""
                over = f"  POOL RAN OUT: {r.over} replays" if r.over else ""
                print(
                    f"  {target.name:<14} {METHOD_LABEL[mode]:<20} {r.ok_per_s:>8.1f}/s "
                    f"n={r.total:<7} bad={r.bad:<5} p50={r.p50_ms or 0:.2f}ms "
                    f"p99={r.p99_ms or 0:.2f}ms CPU {100 * r.cpu_s / r.seconds:.0f}%{sign}{over}"
                )


if __name__ == "__main__":
    sys.exit(main())
