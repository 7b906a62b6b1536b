"""web/http_protocol.py. One write per response: what is held, when it leaves, and that
responses on a real connection stay whole and in order. Bounded heads and pipelining: raw
requests past each limit against the real server, and that requests within them are served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterable

import pytest

from portico.web.http_protocol import (
    MAX_HEAD_SIZE,
    MAX_HEADER_COUNT,
    MAX_HEADER_LINE_SIZE,
    MAX_PIPELINED_REQUESTS,
    MAX_URL_SIZE,
    CoalescingTransport,
    HoldableFlowControl,
)
from tests.support import Server


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


# Bounded request heads and pipelining (web/http_protocol.py), on the real server.

LIMIT_WAIT = 5  # seconds: every answer below comes at once; an unbounded server never answers


def head_of(server: Server, target: str = "/oidc/jwks", fields: Iterable[str] = ()) -> bytes:
    """A GET request's head: its line, Host, then ``fields`` ("Name: value" each)."""
    lines = [f"GET {target} HTTP/1.1", f"Host: localhost:{server.port}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(server: Server, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and return all the server sends until it closes.

    A server that refuses may stop reading, so a failed send is not an error; one that never
    closes fails the test (socket timeout)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=LIMIT_WAIT) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(data)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    received = bytearray()
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # closed with our input unread: what came before the reset is kept
    return bytes(received)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:100]
    return int(response[9:12])


def assert_refused(response: bytes, status: int) -> None:
    """One answer, ``status``, saying the connection closes, and nothing after it."""
    head, _, body = response.partition(b"\r\n\r\n")
    assert status_of(response) == status, response[:300]
    assert b"\r\nconnection: close" in head.lower()
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    assert len(body) == length, "the connection carried something after the refusal"


def test_a_1_mb_header_line_gets_431_and_the_connection_closed(server: Server) -> None:
    response = exchange(server, head_of(server, fields=["X-Big: " + "a" * 1_000_000]))
    assert_refused(response, 431)


def test_20000_small_headers_get_431(server: Server) -> None:
    response = exchange(server, head_of(server, fields=[f"X-H{i}: v" for i in range(20_000)]))
    assert_refused(response, 431)


def test_an_over_long_url_gets_414(server: Server) -> None:
    response = exchange(server, head_of(server, target="/oidc/jwks?q=" + "a" * 100_000))
    assert_refused(response, 414)


def test_a_header_that_never_ends_is_cut_off_at_the_head_limit(server: Server) -> None:
    """Sent a kilobyte at a time, with no end of line: answered once past the limit."""
    step = b"a" * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=LIMIT_WAIT) as sock:
        start = head_of(server).removesuffix(b"\r\n") + b"X-Slow: "
        sock.sendall(start)
        sent = len(start)
        answered = False
        while not answered and sent < 256 * 1024:
            sock.sendall(step)
            sent += len(step)
            answered = bool(select.select([sock], [], [], 0.01)[0])
        assert answered, f"no answer after {sent} bytes of one header"
        assert sent <= MAX_HEAD_SIZE + 8 * 1024, f"answered only after {sent} bytes"
        assert_refused(read_until_closed(sock), 431)


def at_the_limits(
    server: Server, url: int = 0, fields: int = 0, line: int = 0, head: int = 0
) -> bytes:
    """A head at every limit at once: a URL of MAX_URL_SIZE bytes, two header fields of
    MAX_HEADER_LINE_SIZE, MAX_HEADER_COUNT fields in all, a little under MAX_HEAD_SIZE bytes;
    ``url``, ``fields``, ``line`` and ``head`` take it that far past one of them."""
    target = "/oidc/jwks?q=" + "a" * (MAX_URL_SIZE + url - len("/oidc/jwks?q="))
    big = [f"X-Big{i}: " + "b" * (MAX_HEADER_LINE_SIZE - len(f"X-Big{i}")) for i in range(2)]
    big[1] += "b" * line
    count = MAX_HEADER_COUNT - 1 - len(big) + fields  # Host is one
    room = MAX_HEAD_SIZE - 100 - len(head_of(server, target, big))
    each = room // count - len("X-F00: \r\n")
    fillers = [f"X-F{i:02}: " + "f" * each for i in range(count)]
    fillers[-1] += "f" * head
    return head_of(server, target, big + fillers)


def test_a_request_at_every_limit_is_served(server: Server) -> None:
    request = at_the_limits(server)
    assert MAX_HEAD_SIZE - 200 < len(request) <= MAX_HEAD_SIZE
    with socket.create_connection(("127.0.0.1", server.port), timeout=LIMIT_WAIT) as sock:
        sock.sendall(request)
        head, body = read_response(sock, bytearray())
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert "keys" in json.loads(body)


@pytest.mark.parametrize(
    "past,status",
    [({"url": 1}, 414), ({"fields": 1}, 431), ({"line": 1}, 431), ({"head": 200}, 431)],
)
def test_a_byte_or_a_field_past_a_limit_is_refused(
    server: Server, past: dict[str, int], status: int
) -> None:
    request = at_the_limits(server, **past)
    assert_refused(exchange(server, request), status)


def test_more_pipelined_requests_than_may_wait_are_all_answered_in_order(server: Server) -> None:
    """Past MAX_PIPELINED_REQUESTS the rest waits unparsed; it is parsed as requests start."""
    paths = ["/oidc/jwks", "/oidc/.well-known/openid-configuration"] * MAX_PIPELINED_REQUESTS * 3
    request = b"".join(head_of(server, path) for path in paths)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        buffer = bytearray()
        for path in paths:
            head, body = read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert ("keys" in json.loads(body)) == path.endswith("jwks")
        assert buffer == b""


def test_a_pipelining_flood_queues_no_more_than_may_wait(server: Server) -> None:
    """uvicorn parsed all it had read, queueing thousands of requests per read of a flood."""
    count = 2000
    request = head_of(server) * count
    connections = server._server.server_state.connections  # the server runs in this process
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sender = threading.Thread(target=sock.sendall, args=(request,))
        sender.start()
        deepest = 0
        for _ in range(50):
            deepest = max([deepest, *(len(c.pipeline) for c in list(connections))])
            time.sleep(0.002)
        buffer = bytearray()
        for _ in range(count):
            assert read_response(sock, buffer)[0].startswith(b"HTTP/1.1 200 ")
        sender.join()
    assert 0 < deepest <= MAX_PIPELINED_REQUESTS + 1  # one more: see MAX_PIPELINED_REQUESTS


def test_a_refused_pipelined_request_is_answered_after_those_before_it(server: Server) -> None:
    good = head_of(server)
    bad = head_of(server, fields=["X-Big: " + "a" * 100_000])
    with socket.create_connection(("127.0.0.1", server.port), timeout=LIMIT_WAIT) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(good * 3 + bad + good)
        buffer = bytearray()
        for _ in range(3):
            head, body = read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200 ") and "keys" in json.loads(body)
        assert_refused(bytes(buffer) + read_until_closed(sock), 431)


@pytest.mark.parametrize(
    "target,status", [("/oidc/jwks", 200), ("/oidc/jwks?q=" + "a" * 100_000, 414)]
)
def test_a_request_begun_after_a_large_body_is_served_or_bounded(
    server: Server, target: str, status: int
) -> None:
    """A body's bytes without CR go to the parser at once: a request line begun among them
    (its CR not yet sent) is charged its URL, and still refused past the limit."""
    body = b'{"a": "' + b"x" * 100_000 + b'"}'
    post = (
        f"POST /oidc/jwks HTTP/1.1\r\nHost: localhost:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    line, _, rest = head_of(server, target).partition(b" HTTP/1.1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=LIMIT_WAIT) as sock:
        sock.sendall(post + body + line)
        time.sleep(0.2)  # read by the server before the rest of the request line comes
        with contextlib.suppress(ConnectionError):
            sock.sendall(b" HTTP/1.1" + rest)
        buffer = bytearray()
        assert read_response(sock, buffer)[0].startswith(b"HTTP/1.1 404 ")  # POST: no route
        if status == 200:
            head, answer = read_response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200 ") and "keys" in json.loads(answer)
        else:
            assert_refused(bytes(buffer) + read_until_closed(sock), status)


def chunked_post(server: Server, fields: str = "") -> bytes:
    """A chunked token request up to its last chunk: trailers (or an empty line) follow."""
    body = "grant_type=client_credentials"
    return (
        f"POST /oidc/token HTTP/1.1\r\nHost: localhost:{server.port}\r\n{fields}"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(body):x}\r\n{body}\r\n0\r\n"
    ).encode()


def test_a_chunked_body_with_trailers_is_served(server: Server) -> None:
    request = chunked_post(server, "Connection: close\r\n") + b"X-Checksum: 1\r\n\r\n"
    response = exchange(server, request)
    assert status_of(response) in (400, 401), response[:300]  # the token endpoint answered


def test_trailers_that_never_end_close_the_connection(server: Server) -> None:
    """A trailer section is bounded like a head; its request cannot complete: no answer."""
    request = chunked_post(server) + b"X-Trailer: " + b"a" * (4 * MAX_HEAD_SIZE)
    assert exchange(server, request) == b""


class RecordingReader:
    """The reading side of a transport, as flow control drives it."""

    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def test_held_reading_stays_paused_and_resumes_as_uvicorn_last_asked() -> None:
    reader = RecordingReader()
    looks: list[bool] = []
    flow = HoldableFlowControl(reader, lambda: looks.append(True))  # type: ignore[arg-type]
    flow.hold()
    assert not reader.reading
    flow.resume_reading()  # uvicorn: a response completed
    assert not reader.reading and looks == [True]
    flow.release()
    assert reader.reading

    flow.pause_reading()  # uvicorn: a request is queued
    flow.hold()
    flow.resume_reading()
    flow.pause_reading()  # ... and another
    flow.release()
    assert not reader.reading  # as uvicorn last asked
    flow.resume_reading()
    assert reader.reading
