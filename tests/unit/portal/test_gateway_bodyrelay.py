"""The gateway's socket-to-socket download relay (portal/gateway/bodyrelay.py), against a
stand-in Jupyter on a local socket: a body of known length arrives byte for byte (also
to a client that reads slowly), and a body the session cuts short never looks complete
to the client (its connection is cut before Content-Length bytes)."""

from __future__ import annotations

import asyncio
import os
import threading

import aiohttp
from aiohttp import web

from portal.gateway.server import STREAM_BUFFER, Gateway

BODY = os.urandom(6 << 20)


async def _jupyter(send: int, body: bytes = BODY, sent: list | None = None):
    """A server that answers any request with `body`'s length and its first `send` bytes,
    then closes (`sent` gets how many it could send)."""
    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        done = 0
        try:
            for start in range(0, send, 256 << 10):
                writer.write(body[start:min(send, start + (256 << 10))])
                await writer.drain()
                done = min(send, start + (256 << 10))
        except ConnectionError:
            pass
        if sent is not None:
            sent.append(done)
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _download(send: int, slow: bool, body: bytes = BODY, stop_after: int = 0,
                    sent: list | None = None) -> tuple[int, bytes]:
    """Through a gateway relay: (Content-Length the client was promised, what it got);
    with `stop_after`, the client hangs up once it has that many bytes."""
    upstream, up_port = await _jupyter(send, body, sent)
    gateway = Gateway("http://127.0.0.1:1", "secret", set())
    client = aiohttp.ClientSession(auto_decompress=False)

    async def handle(request):
        async with client.get(f"http://127.0.0.1:{up_port}/f",
                              read_bufsize=STREAM_BUFFER) as up:
            return await gateway._relay_response(request, up, list(up.headers.items()),
                                                 take_over=True)

    app = web.Application()
    app.router.add_get("/f", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")][0])
        got = bytearray()
        while len(got) < length:
            chunk = await reader.read(64 << 10)
            if not chunk:
                break
            got += chunk
            if stop_after and len(got) >= stop_after:
                break
            if slow and len(got) < (2 << 20):
                await asyncio.sleep(0.005)  # a slow reader: the relay must pause Jupyter
        writer.close()
        if sent is not None:  # the stand-in Jupyter has finished or been cut off
            deadline = asyncio.get_running_loop().time() + 20
            while not sent and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        return length, bytes(got)
    finally:
        await client.close()
        await runner.cleanup()
        upstream.close()


def _run(coro):
    """asyncio.run in its own thread (an event loop may be set on the test's thread)."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", asyncio.run(coro)))
    thread.start()
    thread.join(60)
    return out["value"]


def test_a_large_body_arrives_byte_for_byte():
    length, got = _run(_download(len(BODY), slow=False))
    assert length == len(BODY) and got == BODY


def test_a_slow_reader_gets_the_whole_body():
    length, got = _run(_download(len(BODY), slow=True))
    assert length == len(BODY) and got == BODY


def test_a_body_cut_short_by_the_session_is_cut_for_the_client():
    length, got = _run(_download(3 << 20, slow=False))
    assert length == len(BODY) and len(got) < length
    assert got == BODY[:len(got)]


def test_a_client_that_hangs_up_stops_the_download_from_the_session():
    big = os.urandom(96 << 20)
    sent: list = []
    length, got = _run(_download(len(big), slow=False, body=big, stop_after=1 << 20,
                                 sent=sent))
    assert length == len(big) and len(got) < length
    assert sent and sent[0] < len(big)  # the session's connection was closed early
