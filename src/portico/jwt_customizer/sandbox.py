"""Where customizer scripts run: helper processes, each serving one call at a time with a
fresh V8 isolate (``sandbox_child.py``), watched from a thread of the server.

Why processes and not V8 in the server: an isolate that runs out of heap in one huge
allocation aborts the process that hosts it, and a script busy in a microtask never hands
control back; in a helper either costs that helper only. The server's side never blocks its
event loop: each call waits in a thread of a small pool (one per helper), which gives the
helper its deadline and its memory ceiling and kills it when it passes either.

Limits (``Limits``): wall-clock time per call, the V8 heap of the isolate, and the helper's
resident memory (ArrayBuffers live outside the heap). Each is enforced twice where it can
be: inside the helper (mini-racer stops the isolate) and from outside (kill).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

CHILD = Path(__file__).with_name("sandbox_child.py")
GRACE = 0.5  # seconds the helper has past the limit to report it before it is killed
POLL = 0.02  # how often a waiting call looks at the helper's memory
_PAGE = os.sysconf("SC_PAGE_SIZE")


if TYPE_CHECKING:
    from portico.settings import Settings


@dataclass(frozen=True)
class Limits:
    time: float = 1.0  # seconds per call, start to answer
    heap: int = 64 << 20  # bytes of V8 heap per isolate
    process: int = 512 << 20  # bytes of resident memory per helper (heap + ArrayBuffers)
    helpers: int = 2  # calls that run at once; more wait their turn

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The server's settings (``PORTICO_JWT_CUSTOMIZER_TIME_LIMIT``, ``..._HEAP_LIMIT_MB``,
        ``..._PROCESS_LIMIT_MB``, ``..._HELPERS``)."""
        return cls(
            time=settings.jwt_customizer_time_limit,
            heap=settings.jwt_customizer_heap_limit_mb << 20,
            process=settings.jwt_customizer_process_limit_mb << 20,
            helpers=settings.jwt_customizer_helpers,
        )


@dataclass(frozen=True)
class Outcome:
    """Logto's script result: ``ok`` with ``value``, or a failure ``kind`` (``denied``,
    ``timeout``, ``oom``, ``syntax``, ``type``, ``runtime``) with its ``message``."""

    ok: bool
    value: Any = None
    kind: str = ""
    message: str = ""
    name: str = ""
    stack: str | None = None

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> Outcome:
        if answer.get("ok") is True:
            return cls(True, value=answer.get("value"))
        return cls(
            False,
            kind=str(answer.get("kind") or "runtime"),
            message=str(answer.get("message") or ""),
            name=str(answer.get("name") or ""),
            stack=answer.get("stack") if isinstance(answer.get("stack"), str) else None,
        )


class _Helper:
    """One helper process and the pipe to it."""

    def __init__(self, heap: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (our own program, fixed arguments)
            [sys.executable, "-I", str(CHILD), str(heap)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},  # no secret of the server's environment in the helper
            cwd="/",
        )

    def call(self, request: bytes, limits: Limits) -> Outcome:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(request)
            process.stdin.flush()
        except OSError:  # the helper died since its last call
            self.kill()
            return Outcome(False, kind="runtime", message="The script runner stopped.")
        deadline = time.monotonic() + limits.time + GRACE
        fd = process.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return Outcome(False, kind="timeout")
            ready, _, _ = select.select([fd], [], [], min(POLL, remaining))
            if ready:
                return self._read(process)
            if self.resident() > limits.process:
                self.kill()
                return Outcome(False, kind="oom")

    def _read(self, process: subprocess.Popen[bytes]) -> Outcome:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:  # the helper ended without an answer: V8 gave up on its heap
            self.kill()
            return Outcome(False, kind="oom")
        return Outcome.from_answer(json.loads(line))

    def resident(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class Sandbox:
    """Runs ``getCustomJwtClaims`` with ``limits``; ``run`` may be awaited from any event
    loop (each call waits in the pool's thread, never on the loop)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._pool = ThreadPoolExecutor(self.limits.helpers, thread_name_prefix="jwt-sandbox")
        self._local = threading.local()
        self._helpers: set[_Helper] = set()
        self._lock = threading.Lock()

    async def run(self, script: str, payload: dict[str, Any]) -> Outcome:
        request = {"script": script, "payload": payload, "timeout": self.limits.time}
        line = (json.dumps(request) + "\n").encode()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, line)

    def _call(self, line: bytes) -> Outcome:
        helper = self._helper()
        outcome = helper.call(line, self.limits)
        if not helper.alive:
            with self._lock:
                self._helpers.discard(helper)
            self._local.helper = None
        return outcome

    def _helper(self) -> _Helper:
        helper: _Helper | None = getattr(self._local, "helper", None)
        if helper is None or not helper.alive:
            helper = _Helper(self.limits.heap)
            self._local.helper = helper
            with self._lock:
                self._helpers.add(helper)
        return helper

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            helpers, self._helpers = list(self._helpers), set()
        for helper in helpers:
            helper.kill()


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def configure(limits: Limits) -> None:
    """The limits of the process's sandbox (the server calls this at start, from its
    settings); a sandbox already made keeps running with its own until replaced here."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.limits != limits:
            _shared = Sandbox(limits)


def shared() -> Sandbox:
    """The process's sandbox, made at its first use (helpers start on demand)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Sandbox()
        return _shared
