"""uvicorn's httptools protocol, sending each response in one write and bounding what one
connection can make the server hold before the application sees a request.

One write per response
----------------------
uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls; with uvloop each one is its own ``send`` system call and its own
TCP segment, which the client then reads separately. For the small JSON answers of the
protocol endpoints (JWKS, discovery, userinfo, introspection, tokens) those two system calls
were over a third of the server's time under load (py-spy, bench/README.md). Here the writes
made during one turn of the event loop are joined and handed to the real transport once, at
the start of the next turn, so a response leaves in one segment.

Nothing else changes: bytes and their order are the same; ``close`` sends what is held before
closing, ``abort`` drops it as the real one drops its buffer, and the held bytes count in
``get_write_buffer_size`` so flow control still sees them. Selected by handing the class
to uvicorn as its ``http`` protocol (``portico serve``, the test server).

Bounded request heads
---------------------
uvicorn's httptools protocol puts no limit on a request head: the URL grows in
``HttpToolsProtocol.url``, the headers in a list, and the header still being received in
httptools' own buffer, for as long as the client sends. Eight connections each sending a
30 MB header line grew a worker from ~150 MB to ~480 MB, never given back. Here a head is
held to :data:`MAX_URL_SIZE`, :data:`MAX_HEADER_LINE_SIZE`, :data:`MAX_HEADER_COUNT` and
:data:`MAX_HEAD_SIZE`; past one of them the client gets ``414 URI Too Long`` or ``431
Request Header Fields Too Large`` with ``Connection: close`` (after the answers to any
requests pipelined before it), and the connection ends.

httptools hands over a header only once it is complete, so input is counted as it is fed to
the parser, in pieces of at most ``_PIECE_SIZE`` bytes and never more than the open head
still has room for: a head is never held past :data:`MAX_HEAD_SIZE`. A piece the head was
open across counts whole; so does one in which a head began (it may also end the previous
request, hence the small pieces). Only the rest of a read in a body or between requests, if
it holds no CR (and so can end no head nor header), goes in one piece; a request begun in it
can hold no more than its URL yet, and is charged that. The URL and the header count are
checked after every piece that leaves a head open, and with the header lines once more when
the head is complete, before uvicorn hands the request on. So they pass their limits by at
most what one piece holds, only while that piece is parsed (one connection at a time), and
a refused head's URL and headers are let go at once. (Checking in uvicorn's per-header callback
instead cost 0.2 µs per header, on every request.) A chunked body's trailer section, which
httptools collects the same way, is counted like a head; refused, it ends the connection.

Bounded pipelining
------------------
uvicorn queues requests that arrive while one is in flight (HTTP/1.1 pipelining) and pauses
reading, but it parses all of what it has already read (up to 256 KiB, some 14,000 minimal
requests, each queued with its scope and its cycle) and resumes reading whenever a response
completes or the application reads a body, requests still queued. One client pipelining
without pause grew a worker by a gigabyte in eight seconds. Here at most
:data:`MAX_PIPELINED_REQUESTS` wait: no piece holds more than one end of a head, the queue
is checked before each piece, and when it is full the rest of the read waits unparsed, with
reading held paused, until a queued request starts.

bench/header_flood.py shows both attacks against a real ``portico serve``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_URL_SIZE = 8 * 1024
"""Longest request target (path and query), in bytes; longer gets ``414 URI Too Long``.

nginx answers 414 when the request line does not fit one ``large_client_header_buffers``
buffer (8 KiB), Apache's ``LimitRequestLine`` is 8,190. Authorization URLs (PKCE challenge,
state, nonce, scopes) are well under 1 KiB."""

MAX_HEADER_LINE_SIZE = 8 * 1024
"""Longest header field, name and value together, in bytes; longer gets 431.

nginx's per-line limit is one ``large_client_header_buffers`` buffer (8 KiB), Apache's
``LimitRequestFieldSize`` 8,190. A browser keeps each cookie under 4 KiB."""

MAX_HEADER_COUNT = 100
"""Most header fields in one request (a chunked body's trailers included); more gets 431.

Apache's ``LimitRequestFields``. Browsers send about 15, proxies add a few; 20,000 tiny
headers fit in 100 KB, and each would be a tuple of two bytes objects."""

MAX_HEAD_SIZE = 32 * 1024
"""Most bytes from a request line's first byte to the blank line after the headers (and in
a chunked body's trailer section); more gets 431.

nginx allows four 8 KiB ``large_client_header_buffers``, Node.js 16 KiB in all
(``--max-http-header-size``). A pipelined head that begins in the middle of a piece is
charged the whole piece, so it still gets at least 24 KiB."""

MAX_PIPELINED_REQUESTS = 8
"""Most parsed requests waiting, on one connection, for the one in flight to be answered
(one more when the end of a head was split between two reads).

Each holds its scope, headers and cycle; further pipelined input waits unparsed (reading
paused) until one of them starts. No browser pipelines; eight keep a pipelining client busy
without letting one connection queue thousands."""

REFUSAL_LINGER_SECONDS = 2.0
"""How long a refused connection goes on reading, and discarding, after its 414 or 431.

A socket closed with input unread sends a reset, which can destroy the answer before the
client reads it: a client still sending its huge header would see "connection reset"
instead of 431. So the answer is followed by a half-close, and input is drained until the
client closes or this time has passed (nginx's lingering close, 5 s there)."""

_PIECE_SIZE = 8 * 1024
"""Most bytes handed to the parser at once (but for a body's without CR): what a head that
begins within a piece may be charged, and what may be parsed between two checks."""

_LAST_FULL_PIECE = MAX_HEAD_SIZE - _PIECE_SIZE  # an open head past this gets a shorter piece
# No shorter head holds more than MAX_HEADER_COUNT fields ("a:\r\n" each), nor a URL or a
# field past its limit.
_FEWEST_BYTES_PAST_COUNT = len(b"a:\r\n") * MAX_HEADER_COUNT
_FEWEST_BYTES_PAST_LENGTH = min(MAX_URL_SIZE, MAX_HEADER_LINE_SIZE)
_HEAD_END = b"\r\n\r\n"  # the only end of a head (or of trailers) llhttp accepts
_REQUEST_LINE_REST = 32  # the method, the version, one space each (llhttp skips more)

# ``_head_size``: the byte count of the open head (>= 0), or one of these, set by the
# parser's callbacks during a piece and turned into a count by ``data_received`` after it.
_NO_HEAD = -1  # no head open: a body, or nothing yet of the next request
_HEAD_BEGAN = -2  # a request or a chunked body's trailer section began within the piece

# RFC 9110's reason phrases (Python's for 414 is RFC 2616's "Request-URI Too Long").
_PHRASES = {
    HTTPStatus.REQUEST_URI_TOO_LONG: b"URI Too Long",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: b"Request Header Fields Too Large",
}

# What becomes of input (``_input``).
_PARSING = 0
_HOLDING = 1  # the pipeline is full: input waits unparsed, reading is held paused
_REFUSING = 2  # a 414/431 waits for the responses to the requests before it; input dropped
_REFUSED = 3  # the 414/431 is sent (or the connection closed); input is dropped


class CoalescingTransport:
    """A transport whose writes within one loop turn go out as one write of the real one."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._held.append(bytes(data))

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        held = sum(map(len, self._held)) if self._held else 0
        return held + self._transport.get_write_buffer_size()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HoldableFlowControl(FlowControl):
    """uvicorn's flow control, whose reading can be held paused whatever uvicorn asks.

    uvicorn resumes reading whenever a response completes (before it starts the next queued
    request) and whenever the application reads a body, even with requests still queued.
    While held, ``read_paused`` goes on recording what uvicorn wants, the transport stays
    paused, each such resume calls ``on_resume_held`` (the moment the protocol looks again
    at what it holds), and :meth:`release` carries out uvicorn's wish.
    """

    def __init__(self, transport: asyncio.Transport, on_resume_held: Callable[[], None]) -> None:
        super().__init__(transport)
        self._reader = transport
        self._on_resume_held = on_resume_held
        self.holding = False

    def hold(self) -> None:
        if not self.holding:
            self.holding = True
            if not self.read_paused:
                self._reader.pause_reading()

    def release(self) -> None:
        if self.holding:
            self.holding = False
            if not self.read_paused:
                self._reader.resume_reading()

    def resume_reading(self) -> None:
        if self.holding:
            self.read_paused = False
            self._on_resume_held()
        elif self.read_paused:
            super().resume_reading()


class _Refused(Exception):
    """Raised in a parser callback to stop the parser; ``_refusal`` says what to answer."""


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol writing through a :class:`CoalescingTransport`, with request heads
    and pipelining bounded (see the module docstring).

    uvicorn's methods are called as functions of its class rather than through ``super()``
    where they run for every request: ``super()`` alone cost 0.3 µs a call here.
    """

    # Slots, not instance attributes: uvicorn's protocol has 28 of those, and past 30 an
    # instance loses CPython's shared-key dictionary, and every attribute access (uvicorn's
    # own included) its fast path: a request cost 0.4 µs more.
    __slots__ = (
        "_flow",
        "_head_size",
        "_held",
        "_held_from",
        "_input",
        "_linger",
        "_look_pending",
        "_piece",
        "_refusal",
        "_refusal_reason",
    )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_size = _NO_HEAD
        self._piece = 0  # the size of the piece being parsed
        self._input = _PARSING
        self._held = b""  # while _HOLDING: the unparsed input, from _held_from on
        self._held_from = 0
        self._look_pending = False
        self._refusal = 0  # the status to answer once a limit is passed
        self._refusal_reason = ""
        self._linger: asyncio.TimerHandle | None = None
        super().connection_made(
            CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]
        )
        self._flow = HoldableFlowControl(self.transport, self._look_again_soon)
        self.flow = self._flow

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self._held = b""
        super().connection_lost(exc)

    # Input

    def data_received(self, data: bytes, start: int = 0) -> None:
        """Feed ``data[start:]`` to uvicorn's parser piece by piece, checking open heads.

        ``start`` is for held input, resumed where it stopped (see :meth:`_release`).
        """
        if self._input:
            if self._input == _HOLDING:
                # Reading is paused; should a read already under way arrive, it waits too.
                self._held = self._held[self._held_from :] + data
                self._held_from = 0
            return  # _REFUSING, _REFUSED: dropped
        end = len(data)
        view: memoryview | None = None
        while True:
            if len(self.pipeline) >= MAX_PIPELINED_REQUESTS:
                self._hold(data, start)
                return
            head = self._head_size
            stop = start + (_PIECE_SIZE if head < _LAST_FULL_PIECE else MAX_HEAD_SIZE - head)
            bare = False
            if stop >= end:
                stop = end
            elif head == _NO_HEAD and data.find(b"\r", start, end) < 0:
                # Nothing in the rest can end a head, a header or a chunk's line (no CR): in
                # a body, JSON or a form, it goes to the parser at once.
                stop, bare = end, True
            if not bare:
                # One request at a time: if two heads end in the piece, end it after the
                # first (the pipeline is checked before the next piece).
                if stop - start < 1024:  # most often one request, a GET or a small POST
                    if data.count(_HEAD_END, start, stop) > 1:
                        stop = data.find(_HEAD_END, start, stop) + 4
                else:  # a CR first, as most bodies hold none: a search for one byte is fast
                    cr = data.find(b"\r", start, stop)
                    if cr >= 0:
                        first = data.find(_HEAD_END, cr, stop) + 4
                        if 3 < first < stop:
                            cr = data.find(b"\r", first, stop)
                            if cr >= 0 and data.find(_HEAD_END, cr, stop) >= 0:
                                stop = first
            piece = self._piece = stop - start
            if piece == end:
                HttpToolsProtocol.data_received(self, data)
            else:
                if view is None:
                    view = memoryview(data)
                HttpToolsProtocol.data_received(self, view[start:stop])  # type: ignore[arg-type]
            if self._input:  # refused by a callback
                return
            head = self._head_size
            if head != _NO_HEAD:  # a head is open after the piece
                if head >= 0:  # open across the piece
                    head += piece
                elif bare:  # begun in a piece without CR: it holds only its URL so far
                    head = len(self.url) + _REQUEST_LINE_REST
                else:  # begun in the piece: charged all of it
                    head = piece
                self._head_size = head
                if not self._check_open_head(head):
                    return
            if stop == end:
                return
            start = stop
            # uvicorn answered a malformed request (and closes), or switched protocols after
            # an upgrade: either way it ignores the rest of the read.
            if self.transport.is_closing() or self.parser.should_upgrade():
                return

    def _check_open_head(self, size: int) -> bool:
        """Whether a head still open after a piece, ``size`` bytes so far, may go on."""
        if size >= MAX_HEAD_SIZE:  # still open at the limit: longer than the limit
            reason = f"request head (or trailers) over {MAX_HEAD_SIZE} bytes"
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        elif len(self.url) > MAX_URL_SIZE:
            reason = f"URL over {MAX_URL_SIZE} bytes"
            status = HTTPStatus.REQUEST_URI_TOO_LONG
        elif len(self.headers) > MAX_HEADER_COUNT:
            reason = f"over {MAX_HEADER_COUNT} header fields"
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        else:
            return True
        self._refusal, self._refusal_reason = status, reason
        self._begin_refusal()
        return False

    # Parser callbacks

    def on_message_begin(self) -> None:
        self._head_size = _HEAD_BEGAN
        HttpToolsProtocol.on_message_begin(self)

    def on_headers_complete(self) -> None:
        # The last check before uvicorn hands the request on, skipped where the head (at
        # most ``size`` bytes) is too short to be past a limit.
        head = self._head_size
        size = (head if head > 0 else 0) + self._piece
        if size > _FEWEST_BYTES_PAST_COUNT and (
            len(self.headers) > MAX_HEADER_COUNT
            or (
                size > _FEWEST_BYTES_PAST_LENGTH
                and (
                    len(self.url) > MAX_URL_SIZE
                    or self._longest_header_line() > MAX_HEADER_LINE_SIZE
                )
            )
        ):
            self._refuse_complete_head()
        self._head_size = _NO_HEAD
        HttpToolsProtocol.on_headers_complete(self)

    def _longest_header_line(self) -> int:
        return max((len(name) + len(value) for name, value in self.headers), default=0)

    def on_chunk_header(self) -> None:
        # A chunk of a chunked body begins: its data (on_body) follows or, after the last
        # chunk, the trailer section, which httptools collects like headers.
        self._head_size = _HEAD_BEGAN

    def on_chunk_complete(self) -> None:
        if len(self.headers) > MAX_HEADER_COUNT:  # with the trailers (uvicorn adds them)
            reason = f"over {MAX_HEADER_COUNT} header fields, trailers included"
            self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason)
        self._head_size = _NO_HEAD

    def on_body(self, body: bytes) -> None:
        self._head_size = _NO_HEAD
        HttpToolsProtocol.on_body(self, body)

    def _refuse_complete_head(self) -> NoReturn:
        if len(self.url) > MAX_URL_SIZE:
            self._stop(HTTPStatus.REQUEST_URI_TOO_LONG, f"URL over {MAX_URL_SIZE} bytes")
        if len(self.headers) > MAX_HEADER_COUNT:
            reason = f"over {MAX_HEADER_COUNT} header fields"
        else:
            reason = f"a header field over {MAX_HEADER_LINE_SIZE} bytes"
        self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason)

    def _stop(self, status: HTTPStatus, reason: str) -> NoReturn:
        """Stop the parser from a callback; uvicorn then calls :meth:`send_400_response`."""
        self._refusal, self._refusal_reason = status, reason
        raise _Refused(reason)

    # Responses

    def send_400_response(self, msg: str) -> None:
        if self._refusal:  # the parser stopped on a limit: not a malformed request
            self._begin_refusal()
        else:
            super().send_400_response(msg)

    def _look_again_soon(self) -> None:
        """uvicorn asked to read while input is held or a refusal waits: a response has
        completed, or the application reads a body. Look again once uvicorn is done (it
        starts the next queued request right after), on the next loop turn."""
        if not self._look_pending:
            self._look_pending = True
            self.loop.call_soon(self._look_again)

    def _look_again(self) -> None:
        self._look_pending = False
        if self.transport.is_closing():
            return
        if self._input == _HOLDING:
            if len(self.pipeline) < MAX_PIPELINED_REQUESTS:
                self._release()
        elif self._input == _REFUSING and self.cycle.response_complete:
            self._send_refusal()  # the last response before the refused request is out

    # Holding input while the pipeline is full

    def _hold(self, data: bytes, start: int) -> None:
        self._input = _HOLDING
        self._held, self._held_from = data, start
        self._flow.hold()

    def _release(self) -> None:
        data, start = self._held, self._held_from
        self._held = b""
        self._input = _PARSING
        self.data_received(data, start)
        if self._input == _PARSING:
            self._flow.release()

    # Refusing a request past a limit

    def _begin_refusal(self) -> None:
        self._held = b""
        client = "{}:{} - ".format(*self.client) if self.client else ""
        self.logger.warning("%sRefused: %s (%d).", client, self._refusal_reason, self._refusal)
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            # The trailers of the request in progress: it cannot complete, and its response,
            # if any, is the last this connection sends.
            self._input = _REFUSED
            self.transport.close()
            return
        # Let go of what the refused head holds.
        self.url = b""
        self.headers.clear()
        if cycle is None or cycle.response_complete:
            self._send_refusal()
        else:  # answered in turn, after the requests before it
            self._input = _REFUSING
            self._flow.hold()

    def _send_refusal(self) -> None:
        """Answer the refused request, half-close, and drain input until the client closes
        or :data:`REFUSAL_LINGER_SECONDS` have passed."""
        self._input = _REFUSED
        if self.transport.is_closing():
            return
        body = _PHRASES[self._refusal]
        content = [b"HTTP/1.1 %d %s\r\n" % (self._refusal, body)]
        for name, value in self.server_state.default_headers:
            content.append(name + b": " + value + b"\r\n")
        content.append(
            b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.write(b"".join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.transport.resume_reading()
            self._linger = self.loop.call_later(REFUSAL_LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
