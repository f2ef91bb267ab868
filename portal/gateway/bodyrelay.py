"""A large response body from a session's Jupyter, socket to socket (downloads).

Relayed through aiohttp, every received piece of a body is copied three or four times in
Python (recv's new bytes, the HTTP parser's slice, the reader's join) before it is sent,
and each piece costs a round of the event loop; on the 2-core dev cluster that made the
gateway the most expensive process of a download. Once aiohttp has parsed the response's
head, a body of known length (Content-Length, no transfer coding) needs no parsing: this
takes over the session connection's transport with a BufferedProtocol that receives into
one reused buffer and hands each piece straight to the client's transport (one copy in,
one out, as a C relay does). It never reads past the body's length, pauses Jupyter's
socket while the client's buffer is over the limit, and ends with the body, an error, or
the connection being closed under it (a revoked session: _Stream.close).
"""

from __future__ import annotations

import asyncio

from aiohttp import web


class _Body(asyncio.BufferedProtocol):
    def __init__(self, source: asyncio.Transport, sink: asyncio.Transport, remaining: int,
                 limit: int):
        self.source, self.sink, self.remaining, self.limit = source, sink, remaining, limit
        self.original = source.get_protocol()  # aiohttp's, told when the connection ends
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


async def relay_body(request: web.Request, resp: web.StreamResponse, up, limit: int) -> None:
    """Send the rest of `up`'s body to the client of `resp` (prepared, headers not yet
    flushed). Raises ConnectionError when either side goes away before the end; the
    session's connection is closed either way (it is no longer aiohttp's to reuse)."""
    first = up.content.read_nowait(-1)  # what aiohttp received along with the head
    await resp.write(first)  # also flushes the head
    source = up.connection.transport
    remaining = up.content_length - up.content.total_bytes
    body = None
    try:
        if remaining <= 0:
            return
        sink = request.transport
        if sink is None:
            raise ConnectionResetError("the client went away")
        body = _Body(source, sink, remaining, limit)
        source.set_protocol(body)  # synchronously after the read: no byte is missed
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
    finally:
        if body is not None:  # no one waits for its end any more
            if not body.done.done():
                body.done.cancel()
            elif not body.done.cancelled():
                body.done.exception()
        up.close()
        resp.force_close()  # aiohttp's writer did not count these bytes: no reuse
