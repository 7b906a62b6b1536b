#!/usr/bin/env python3
"""Oversized request heads and a pipelining flood against a real ``portico serve``: the
server's RSS before, during and after, and what each attack got back.

Starts one ``portico serve`` process (one worker, SQLite, a fresh data dir, on 127.0.0.1,
the only address this script connects to). Then, all at once: eight connections each
sending a 30 MB header line, one a 1 MB header line, one 20,000 headers. Then one connection
pipelining minimal requests back to back for a few seconds while reading the answers.
Prints the process's RSS (VmRSS summed over its process group: idle, the peak during each
attack, after it, and once settled) and, per attack, its answer (the status line, or how the
connection ended). Asserts nothing; about 15 seconds.

    python bench/header_flood.py [--port 18095] [--flood-seconds 3] [--portico PATH]

``--portico`` runs another ``portico`` executable, e.g. a wrapper serving an older protocol
class, for a before/after comparison. The limits are in web/http_protocol.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procs import Server

HOST = "127.0.0.1"
MB = 1_000_000


@dataclass
class Outcome:
    name: str
    sent: int = 0
    answer: str = ""  # the status line, if one came
    ending: str = ""  # how the connection ended

    def line(self) -> str:
        answer = self.answer or "no answer"
        return f"  {self.name:<21} {answer:<44} {self.ending} ({self.sent / MB:.1f} MB sent)"


def attack(port: int, name: str, fields: bytes, filler: bytes = b"", times: int = 0) -> Outcome:
    """A GET whose head carries ``fields`` then ``filler`` ``times`` times; its answer."""
    outcome = Outcome(name)
    head = b"GET /api/status HTTP/1.1\r\nHost: %s:%d\r\n%s" % (HOST.encode(), port, fields)
    with socket.create_connection((HOST, port), timeout=20) as sock:
        try:
            for part in [head, *[filler] * times, b"\r\n\r\n"]:
                sock.sendall(part)
                outcome.sent += len(part)
        except OSError as exc:
            outcome.ending = f"stopped sending ({type(exc).__name__}), "
        outcome.answer, ending = read_answer(sock)
        outcome.ending += ending
    return outcome


def read_answer(sock: socket.socket) -> tuple[str, str]:
    """The status line of the first answer, and whether the server then closed."""
    received = b""
    try:
        while b"\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                return "", "closed by the server"
            received += chunk
        sock.settimeout(2)
        while sock.recv(65536):
            pass
        ending = "then closed by the server"
    except TimeoutError:
        ending = "then kept open" if received else "timed out"
    except ConnectionResetError:
        ending = "reset by the server"
    return received.split(b"\r\n", 1)[0].decode("latin-1"), ending


def while_running(targets: list[Callable[[], None]], sample: Callable[[], float]) -> float:
    """Run ``targets`` in threads; the highest ``sample()`` seen meanwhile."""
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    peak = sample()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, sample())
        time.sleep(0.05)
    return max(peak, sample())


def header_attacks(port: int, sample: Callable[[], float]) -> tuple[list[Outcome], float]:
    plans = [(f"30 MB header line #{i + 1}", b"X-Flood: ", b"a" * MB, 30) for i in range(8)]
    plans.append(("1 MB header line", b"X-Flood: " + b"a" * MB, b"", 0))
    plans.append(("20,000 headers", b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)), b"", 0))
    outcomes: dict[str, Outcome] = {}

    def run(name: str, fields: bytes, filler: bytes, times: int) -> Callable[[], None]:
        return lambda: outcomes.update({name: attack(port, name, fields, filler, times)})

    peak = while_running([run(*plan) for plan in plans], sample)
    return [outcomes[plan[0]] for plan in plans], peak


def pipelining_flood(
    port: int, seconds: float, sample: Callable[[], float]
) -> tuple[Outcome, float]:
    """Minimal requests back to back on one connection for ``seconds``, answers read as
    they come; then the client closes."""
    request = b"GET /api/status HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (HOST.encode(), port)
    batch = request * 2000
    outcome = Outcome(f"pipelining for {seconds:g} s")
    answers = 0
    stop = threading.Event()
    with socket.create_connection((HOST, port), timeout=30) as sock:

        def send() -> None:
            while not stop.is_set():
                try:
                    sock.sendall(batch)
                except OSError:
                    return
                outcome.sent += len(batch)

        def read() -> None:
            nonlocal answers
            tail = b""
            while True:
                try:
                    chunk = sock.recv(1 << 20)
                except OSError:
                    return
                if not chunk:
                    return
                answers += (tail + chunk).count(b"HTTP/1.1 ")
                tail = chunk[-8:]

        def flood() -> None:
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            time.sleep(seconds)
            stop.set()
            sender.join(10)

        threading.Thread(target=read, daemon=True).start()
        peak = while_running([flood], sample)
        time.sleep(0.5)
        outcome.answer = f"{answers:,} answered of {outcome.sent // len(request):,} sent"
        outcome.ending = "closed by the client"
        sock.shutdown(socket.SHUT_RDWR)
    return outcome, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--flood-seconds", type=float, default=3.0)
    ap.add_argument("--portico", default=str(Path(sys.executable).with_name("portico")))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="portico-header-flood-"))
    env = {**os.environ, "PORTICO_ENDPOINT": f"http://{HOST}:{args.port}"}
    argv = [args.portico, "serve", "--data-dir", str(tmp / "data"), "--host", HOST]
    argv += ["--port", str(args.port), "--workers", "1"]
    server = Server("portico", argv, env, tmp / "portico.log")
    started = time.perf_counter()

    def rss() -> float:
        return server.rss_kib() / 1024

    try:
        server.wait_http(f"http://{HOST}:{args.port}/api/status", 204)
        time.sleep(1.0)
        idle = rss()
        print(f"{args.portico} serve on {HOST}:{args.port} (one worker), RSS idle {idle:.1f} MiB")

        outcomes, peak = header_attacks(args.port, rss)
        after_heads = rss()
        print("\nheader attacks, all at once:")
        for outcome in outcomes:
            print(outcome.line())
        print(f"  RSS peak {peak:.1f} MiB, after {after_heads:.1f} MiB")

        outcome, flood_peak = pipelining_flood(args.port, args.flood_seconds, rss)
        after_flood = rss()
        print(f"\n{outcome.line().strip()}")
        print(f"  RSS peak {flood_peak:.1f} MiB, after {after_flood:.1f} MiB")

        time.sleep(2.0)
        server.wait_http(f"http://{HOST}:{args.port}/api/status", 204)  # still serving
        settled = rss()
        print(
            f"\nRSS idle {idle:.1f} MiB; after the header attacks {after_heads:.1f} MiB; after "
            f"the pipelining flood {after_flood:.1f} MiB; 2 s later {settled:.1f} MiB "
            f"({settled - idle:+.1f} MiB); {time.perf_counter() - started:.0f} s in all"
        )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
