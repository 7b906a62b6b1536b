"""Process helpers for the benchmark: start in a new process group, wait, measure RSS and
CPU time, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx


class Server:
    """A server started in its own process group, so stopping it stops its workers too."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log
        self._log = log.open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_http(self, url: str, expect: int, timeout: float = 30.0) -> float:
        """Poll url until it answers `expect`; return seconds since the process was spawned."""
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == expect:
                        return time.perf_counter() - self.started
                time.sleep(0.02)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def wait_log_line(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix) :]
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: no {prefix!r} line after {timeout}s")

    def rss_kib(self) -> int:
        """Sum of VmRSS over every live process in the server's process group."""
        return group_rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's process group."""
        return group_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Workers that outlived the leader still carry its process group id.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self._log.close()


def vmrss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def group_pids(pgid: int) -> list[int]:
    """The live processes whose process group is ``pgid`` (a server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 5 (pgrp) follows the parenthesised command name, which may contain spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def group_rss_kib(pgid: int) -> int:
    return sum(vmrss_kib(pid) for pid in group_pids(pgid))


_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in the group, all their threads
    included (Node signs on its thread pool: one process may use several cores)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICK
