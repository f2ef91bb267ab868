"""The gateway's socket-to-socket download relay (portal/gateway/bodyrelay.py), against a
stand-in Jupyter on a local socket: a body of known length arrives byte for byte (also
to a client that reads slowly), and a body the session cuts short never looks complete
to the client (its connection is cut before Content-Length bytes). On Linux the kernel
moves it (os.splice, portal/gateway/splice.py); without splice, or when a socket refuses
it, the same body arrives the ordinary way."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import threading

import aiohttp
from aiohttp import web

from portal.gateway import splice
from portal.gateway.server import STREAM_BUFFER, Gateway, _Stream

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
                    sent: list | None = None, revoke_after: int = 0) -> tuple[int, bytes]:
    """Through a gateway relay: (Content-Length the client was promised, what it got);
    with `stop_after`, the client hangs up once it has that many bytes; with
    `revoke_after`, the gateway revokes the download then (as for a deleted session)."""
    upstream, up_port = await _jupyter(send, body, sent)
    gateway = Gateway("http://127.0.0.1:1", "secret", set())
    client = aiohttp.ClientSession(auto_decompress=False)
    streams: list[_Stream] = []

    async def handle(request):
        async with client.get(f"http://127.0.0.1:{up_port}/f",
                              read_bufsize=STREAM_BUFFER) as up:
            streams.append(_Stream(request, up))
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
            try:
                chunk = await reader.read(64 << 10)
            except ConnectionError:  # cut: reset rather than closed
                break
            if not chunk:
                break
            got += chunk
            if stop_after and len(got) >= stop_after:
                break
            if revoke_after and len(got) >= revoke_after and streams:
                await streams.pop().close(revoked=True)
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


def _pipes_open() -> int:
    """Pipes this process holds (the splice relay's pipe must not outlive its body)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}").startswith("pipe:")
        except OSError:
            pass
    return count


def _counting(monkeypatch, fail=None) -> list:
    """Record each splice (source, destination is a pipe?) and let `fail(call)` refuse one."""
    calls: list = []
    real = splice._splice

    def spy(src, dst, count, **kwargs):
        calls.append((stat.S_ISFIFO(os.fstat(src).st_mode), count))
        if fail is not None and fail(calls):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(src, dst, count, **kwargs)

    monkeypatch.setattr(splice, "_splice", spy)
    return calls


def test_the_kernel_moves_the_body_and_the_pipe_is_closed_after(monkeypatch):
    pipes = _pipes_open()
    calls = _counting(monkeypatch)
    length, got = _run(_download(len(BODY), slow=True))
    assert length == len(BODY) and got == BODY
    moved_out = sum(count for from_pipe, count in calls if from_pipe)
    assert calls and moved_out >= len(BODY) - (2 << 20)  # all but what came with the head
    assert _pipes_open() == pipes


def test_without_splice_the_body_arrives_the_ordinary_way(monkeypatch):
    monkeypatch.setattr(splice, "_splice", None)
    length, got = _run(_download(len(BODY), slow=True))
    assert length == len(BODY) and got == BODY


def test_a_socket_that_refuses_splice_gets_the_body_the_ordinary_way(monkeypatch):
    calls = _counting(monkeypatch, fail=lambda calls: True)
    length, got = _run(_download(len(BODY), slow=False))
    assert length == len(BODY) and got == BODY
    assert len(calls) == 1


def test_a_pipe_too_small_to_be_worth_it_copies_instead(monkeypatch):
    """Over the user's pipe quota the kernel hands out 8 KiB pipes: the body is copied."""
    monkeypatch.setattr(splice, "MIN_PIPE", 64 << 20)
    calls = _counting(monkeypatch)
    length, got = _run(_download(len(BODY), slow=False))
    assert length == len(BODY) and got == BODY
    assert calls == []


def test_splice_refused_midway_loses_nothing(monkeypatch):
    """The client's socket refuses after three pipefuls came in: what is in the pipe and
    the rest still arrive, in order."""
    pipes = _pipes_open()

    def refuse(calls):
        return calls[-1][0] and sum(1 for from_pipe, _ in calls if not from_pipe) >= 3

    calls = _counting(monkeypatch, fail=refuse)
    length, got = _run(_download(len(BODY), slow=False))
    assert length == len(BODY) and got == BODY
    assert sum(1 for from_pipe, _ in calls if not from_pipe) >= 3
    assert _pipes_open() == pipes


def test_a_revoked_download_is_cut_on_both_sides():
    """A deleted session's download mid-body: the client's connection ends before
    Content-Length bytes, and the session's stops being read (its sender is cut off)."""
    pipes = _pipes_open()
    big = os.urandom(96 << 20)
    sent: list = []
    length, got = _run(_download(len(big), slow=False, body=big, revoke_after=4 << 20,
                                 sent=sent))
    assert length == len(big) and len(got) < length and got == big[:len(got)]
    assert sent and sent[0] < len(big)
    assert _pipes_open() == pipes
