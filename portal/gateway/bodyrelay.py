"""A large response body from a session's Jupyter, socket to socket (downloads).

Relayed through aiohttp, every received piece of a body is copied three or four times in
Python (recv's new bytes, the HTTP parser's slice, the reader's join) before it is sent,
and each piece costs a round of the event loop; on the 2-core dev cluster that made the
gateway the most expensive process of a download. Once aiohttp has parsed the response's
head, a body of known length (Content-Length, no transfer coding) needs no parsing, so
this takes the rest of it out of aiohttp's hands:
- on Linux the kernel moves it, socket to pipe to socket (portal/gateway/splice.py): the
  bytes never enter this process;
- where splice is not there or a socket refuses it (EINVAL), a BufferedProtocol on the
  session connection's transport receives into one reused buffer and hands each piece
  straight to the client's transport (one copy in, one out, as a C relay does).
Either way it never reads past the body's length, stops reading Jupyter while the client
is not taking more (the pipe or the client's buffer is full), and ends with the body, an
error, or the connection being closed under it (a revoked session: _Stream.close).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from portal.gateway import splice


class _Body(asyncio.BufferedProtocol):
    def __init__(self, source: asyncio.Transport, sink: asyncio.Transport, remaining: int,
                 limit: int, original: asyncio.BaseProtocol):
        self.source, self.sink, self.remaining, self.limit = source, sink, remaining, limit
        self.original = original  # aiohttp's, told when the connection ends
        self.buffer = memoryview(bytearray(limit))
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.wake: asyncio.Future | None = None  # set when the sink's buffer went over

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer[:min(self.limit, self.remaining)]

    def buffer_updated(self, nbytes: int) -> None:
        if self.sink.is_closing():  # the client went away: stop reading the session
            self._finish(ConnectionResetError("the client went away"))
            self.source.pause_reading()
            return
        self.sink.write(self.buffer[:nbytes])  # what the socket does not take is copied
        self.remaining -= nbytes
        if self.remaining <= 0:
            self._finish(None)
        elif self.sink.get_write_buffer_size() > self.limit:
            self.source.pause_reading()
            if self.wake is not None and not self.wake.done():
                self.wake.set_result(None)

    def eof_received(self) -> bool:
        self._finish(ConnectionResetError("the session closed the body early"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.remaining > 0:
            self._finish(exc or ConnectionResetError("the session's connection closed"))
        self.original.connection_lost(exc)

    def _finish(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


def can_take_over(request: web.Request, up, limit: int) -> bool:
    """A body worth taking over, and one that can be: GET with a Content-Length over
    `limit`, no transfer coding, plain TCP on both sides."""
    length = up.content_length
    conn = up.connection
    return (request.method == "GET" and length is not None and length > limit
            and "Transfer-Encoding" not in up.headers and conn is not None
            and conn.transport is not None and request.transport is not None
            and conn.transport.get_extra_info("sslcontext") is None
            and request.transport.get_extra_info("sslcontext") is None)


class _Watch(asyncio.Protocol):
    """The session connection's protocol while its body is spliced: nothing is read
    through the transport (reading is paused); it notices the connection being closed
    (a revoke) and tells aiohttp's protocol, as that would have been told."""

    def __init__(self, original: asyncio.BaseProtocol):
        self.original = original
        self.lost: Exception | None = None
        self.on_lost = None

    def data_received(self, data: bytes) -> None:  # never while paused: refuse, not lose
        self._lose(ConnectionResetError("the session's body was read past the relay"))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(exc or ConnectionResetError("the session's connection closed"))
        self.original.connection_lost(exc)

    def _lose(self, exc: Exception) -> None:
        if self.lost is None:
            self.lost = exc
        if self.on_lost is not None:
            self.on_lost(self.lost)


async def relay_body(request: web.Request, resp: web.StreamResponse, up, limit: int) -> None:
    """Send the rest of `up`'s body to the client of `resp` (prepared, headers not yet
    flushed). Raises ConnectionError when either side goes away before the end; the
    session's connection is closed either way (it is no longer aiohttp's to reuse)."""
    first = up.content.read_nowait(-1)  # what aiohttp received along with the head
    source = up.connection.transport
    remaining = up.content_length - up.content.total_bytes
    # From here on nothing more goes to aiohttp's parser (synchronously after the read:
    # no byte is missed, also while the head is written below).
    source.pause_reading()
    watch = _Watch(source.get_protocol())
    source.set_protocol(watch)
    try:
        await resp.write(first)  # also flushes the head
        if remaining <= 0:
            return
        sink = request.transport
        if sink is None or sink.is_closing():
            raise ConnectionResetError("the client went away")
        if watch.lost is not None or source.is_closing():
            raise watch.lost or ConnectionResetError("the session's connection closed")
        if splice.available():
            try:
                await _splice_body(request, sink, source, remaining, limit, watch)
                return
            except splice.Unsupported as exc:  # the ordinary way, from where it stopped
                if exc.pending:
                    sink.write(exc.pending)
                remaining = exc.remaining
                if remaining <= 0:
                    return
        await _copy_body(request, sink, source, remaining, limit, watch)
    finally:
        up.close()
        resp.force_close()  # aiohttp's writer did not count these bytes: no reuse


async def _splice_body(request, sink, source, remaining: int, limit: int,
                       watch: _Watch) -> None:
    """The kernel moves the body (portal/gateway/splice.py), once what aiohttp's writer
    holds (the head, the first bytes) has gone out: nothing may overtake it."""
    sink.set_write_buffer_limits(high=0)  # drain() below waits until it is all sent
    try:
        while sink.get_write_buffer_size() > 0:
            if sink.is_closing():
                raise ConnectionResetError("the client went away")
            await request.writer.drain()
            await asyncio.sleep(0)  # never a busy loop, whatever drain() did
        if watch.lost is not None:
            raise watch.lost
        splicer = splice.Splicer(source.get_extra_info("socket").fileno(),
                                 sink.get_extra_info("socket").fileno(), limit)
        watch.on_lost = splicer.stop
        try:
            await splicer.run(remaining, sink.is_closing)
        finally:
            watch.on_lost = None
            splicer.close()  # its duplicates: closing the transports closes the sockets
    finally:
        if not sink.is_closing():
            sink.set_write_buffer_limits(high=limit)


async def _copy_body(request, sink, source, remaining: int, limit: int,
                     watch: _Watch) -> None:
    """The body through this process, one reused buffer (_Body)."""
    body = _Body(source, sink, remaining, limit, watch.original)
    source.set_protocol(body)
    if watch.lost is not None:
        raise watch.lost
    try:
        source.resume_reading()
        while not body.done.done():
            body.wake = asyncio.get_running_loop().create_future()
            await body.wake
            if body.done.done():
                break
            await request.writer.drain()  # the client's buffer is back under the limit
            if source.is_closing():
                break
            source.resume_reading()
        await body.done
    finally:  # no one waits for its end any more
        if not body.done.done():
            body.done.cancel()
        elif not body.done.cancelled():
            body.done.exception()
