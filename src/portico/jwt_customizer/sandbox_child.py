"""The helper process that runs customizer scripts (started by ``sandbox.py``; never imported
by the server).

Run as ``python -I sandbox_child.py HEAP_BYTES``: it reads one JSON request per line on stdin
(``{"script", "payload", "timeout"}``) and answers one JSON line on stdout. Each request gets a
new V8 isolate, dropped afterwards, so nothing a script leaves behind reaches the next user.
V8 alone has no file, process, network or module access; the only global added here is the
``setTimeout`` that mini-racer installs (ECMAScript only). It imports nothing of Portico and
is started with an empty environment, so no server secret is in this process at all.

After a timeout or an exhausted heap the process exits: an isolate stopped mid-task may not
be reusable, and the server starts a fresh helper.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSParseException,
    JSTimeoutException,
    MiniRacer,
    init_mini_racer,
)
from py_mini_racer._mini_racer import _make_context  # one event loop for every isolate

ENTRY = "getCustomJwtClaims"

# Defined before the script, so the script cannot replace what tells a denial from a throw.
PRELUDE = """
const __porticoRun = (() => {
  class Denial extends Error {}
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const describe = (error) => {
    try {
      if (error instanceof Error) {
        return { name: String(error.name), message: String(error.message),
                 stack: typeof error.stack === 'string' ? error.stack : undefined };
      }
      return { name: 'Error', message: String(error) };
    } catch (_) {
      return { name: 'Error', message: 'What the script threw cannot be shown.' };
    }
  };
  return async (entry, input) => {
    const api = Object.freeze({
      denyAccess: (message = 'Access denied') => { throw new Denial(String(message)); },
    });
    let value;
    try {
      value = await entry({ ...parse(input), api });
    } catch (error) {
      if (error instanceof Denial) {
        return stringify({ ok: false, kind: 'denied', message: error.message });
      }
      return stringify({ ok: false, kind: 'runtime', ...describe(error) });
    }
    try {
      return stringify({ ok: true, value: value === undefined ? null : value });
    } catch (_) {
      return stringify({ ok: false, kind: 'type',
                         message: 'The script return value must be JSON-serializable.' });
    }
  };
})();
"""


def isolates(heap_bytes: int) -> Iterator[MiniRacer]:
    """Fresh isolates, each made (and its prelude run) while the helper waits for the next
    request, so a call does not wait for one; each is used once."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    while True:
        with ExitStack() as stack:
            racer = MiniRacer(stack.enter_context(_make_context(loop)))
            racer.set_hard_memory_limit(heap_bytes)
            racer.eval(PRELUDE)
            yield racer
            racer.close()


def run_one(racer: MiniRacer, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(answer, keep going)``."""
    timeout = float(request["timeout"])
    try:
        try:
            racer.eval(request["script"], timeout_sec=timeout)
        except JSParseException as error:
            return {"ok": False, "kind": "syntax", "message": _first_line(error)}, True
        found = racer.eval(f"typeof {ENTRY} === 'function'", timeout_sec=timeout)
        if found is not True:
            message = f"The script does not have a function named `{ENTRY}`"
            return {"ok": False, "kind": "type", "message": message}, True
        call = f"__porticoRun({ENTRY}, {json.dumps(json.dumps(request['payload']))})"
        promise: Any = racer.eval(call, timeout_sec=timeout)
        answer = json.loads(promise.get(timeout=timeout))
        return answer, True
    except JSOOMException:
        return {"ok": False, "kind": "oom"}, False
    except JSTimeoutException:
        return {"ok": False, "kind": "timeout"}, False
    except JSEvalException as error:  # thrown by the script's top level
        if racer.was_hard_memory_limit_reached():
            return {"ok": False, "kind": "oom"}, False
        return {
            "ok": False,
            "kind": "runtime",
            "name": "Error",
            "message": _first_line(error),
        }, True


def _first_line(error: Exception) -> str:
    """mini-racer's message is ``<anonymous>:1: SyntaxError: ...`` plus the source line."""
    text = str(error).strip().splitlines()
    head = text[0] if text else type(error).__name__
    return head.split(": ", 1)[1] if head.startswith("<anonymous>") and ": " in head else head


def main() -> None:
    heap_bytes = int(sys.argv[1])
    # V8's own ceiling, a few times the per-isolate limit: a script that gets past the limit
    # (one huge allocation) ends this process, never the server.
    init_mini_racer(flags=("--single-threaded", f"--max-old-space-size={heap_bytes * 4 >> 20}"))
    fresh = isolates(heap_bytes)
    racer = next(fresh)
    for line in sys.stdin:
        answer, keep_going = run_one(racer, json.loads(line))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if not keep_going:
            os._exit(0)
        racer = next(fresh)  # closes the one just used


if __name__ == "__main__":
    main()
