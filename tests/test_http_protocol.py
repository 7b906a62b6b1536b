"""One write per response (web/http_protocol.py): what is held, when it leaves, and that
responses on a real connection stay whole and in order."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from portico.web.http_protocol import CoalescingTransport


class RecordingTransport(asyncio.Transport):
    """The real transport's side of the contract: what was written, and in how many calls."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.buffered = 0

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return self.buffered


async def next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_as_one_in_order() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert real.writes == []  # held until the loop turns
    await next_turn()
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_nothing_is_held_past_a_turn() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"a")
    await next_turn()
    transport.write(bytearray(b"b"))
    transport.write(memoryview(b"c"))
    await next_turn()
    assert real.writes == [b"a", b"bc"]


async def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    real = RecordingTransport()
    transport = CoalescingTransport(real, loop)
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await next_turn()
    assert real.writes == [b"last words"]  # the scheduled flush finds nothing to send

    real = RecordingTransport()
    transport = CoalescingTransport(real, loop)
    transport.write(b"never sent")
    transport.abort()
    await next_turn()
    assert real.writes == [] and real.aborted


async def test_held_bytes_count_for_flow_control() -> None:
    real = RecordingTransport()
    real.buffered = 100
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"12345")
    assert transport.get_write_buffer_size() == 105
    await next_turn()
    assert transport.get_write_buffer_size() == 100


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length from ``sock``; what follows stays."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the headers ended"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the body ended"
        rest += chunk
    buffer[:] = rest[length:]
    return head, rest[:length]


@pytest.mark.parametrize("count", [1, 5])
def test_pipelined_requests_get_whole_responses_in_order(server, count: int) -> None:
    """Several requests in one packet: each answer complete, in the order asked."""
    paths = ["/oidc/jwks", "/oidc/.well-known/openid-configuration"] * count
    request = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n".encode() for path in paths
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        buffer = bytearray()
        for path in paths:
            head, body = read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200 ")
            document = json.loads(body)
            assert ("keys" in document) == path.endswith("jwks")
            assert ("issuer" in document) == path.endswith("configuration")
        assert buffer == b""
