"""Load generators: wrk (preferred) with a generated Lua script, or an asyncio + httpx fallback.

Both keep `connections` keep-alive connections busy for `duration` seconds and count responses
by status; only 2xx responses count towards the throughput figure.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Result:
    ok_per_s: float
    total: int
    bad: int  # non-2xx (3xx counts as bad here too for the fallback) plus socket errors
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua(req: Request) -> str:
    lines = [f"wrk.method = {json.dumps(req.method)}"]
    if req.body:
        lines.append(f"wrk.body = {json.dumps(req.body)}")
    for k, v in req.headers.items():
        lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNIT_MS[m.group(2)] if m else float("nan")


def run_wrk(req: Request, duration: float, connections: int, threads: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_lua(req))
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                script,
                req.url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    return parse_wrk(out)


def parse_wrk(out: str) -> Result:
    """wrk's ``--latency`` report: requests per second that succeeded, the failures
    (non-2xx answers and socket errors) and the p50/p99 latencies."""
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not m:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    total = int(m.group(1))
    seconds = _ms(m.group(2) + m.group(3)) / 1000.0
    bad = 0
    if nm := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        bad += int(nm.group(1))
    if em := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        bad += sum(int(x) for x in em.groups())
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return Result(
        ok_per_s=max(0, total - bad) / seconds,
        total=total,
        bad=bad,
        seconds=seconds,
        p50_ms=_ms(p50.group(1)) if p50 else None,
        p99_ms=_ms(p99.group(1)) if p99 else None,
    )


async def _py_load(req: Request, duration: float, connections: int) -> Result:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    counts = {"ok": 0, "bad": 0}
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        start = time.perf_counter()
        stop_at = start + duration

        async def worker() -> None:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    r = await client.request(
                        req.method, req.url, headers=req.headers, content=req.body or None
                    )
                    counts["ok" if 200 <= r.status_code < 300 else "bad"] += 1
                except httpx.HTTPError:
                    counts["bad"] += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float | None:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else None
        )

    total = counts["ok"] + counts["bad"]
    return Result(counts["ok"] / seconds, total, counts["bad"], seconds, pct(0.5), pct(0.99))


def run_load(
    req: Request, duration: float, connections: int, threads: int, use_wrk: bool
) -> Result:
    if use_wrk:
        return run_wrk(req, duration, connections, threads)
    return asyncio.run(_py_load(req, duration, connections))
