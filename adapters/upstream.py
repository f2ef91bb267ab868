"""Connections from the portal to a session's service on a compute node (decision 5).

The reverse proxy decides *whether* and *where* (portal/services/proxy.py); this module
only opens the connection it was told to: plain HTTP with `http.client` (streamed, never
buffered whole) and websockets with simple-websocket's client. Host and port always come
from the portal's database, never from a request.

HTTP connections are kept alive and reused per host and port (a few idle ones, briefly):
a new TCP connection per request cost about as much as Jupyter's own answer on the dev
machine. A reused connection that turns out closed is retried once on a fresh one, for
requests without a body only (a streamed body cannot be sent twice).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator, Mapping

from simple_websocket import Client

CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0
POOL_SIZE = 8  # idle connections kept per (host, port)
POOL_IDLE = 20.0  # seconds an idle connection may wait for reuse
_pool: dict[tuple[str, int], list[tuple[float, http.client.HTTPConnection]]] = {}
_pool_lock = threading.Lock()


class UpstreamError(Exception):
    """The service did not answer (refused, timed out, closed); `.message` says how."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def open_http(host: str, port: int, method: str, target: str, headers: Mapping[str, str],
              body=None, length: int | None = None) -> http.client.HTTPResponse:
    """Send one request and return the response with its body still unread.

    `body` is a file-like object read in blocks (with `length` bytes) or None. The caller
    consumes the body with `stream` (or calls `close`). Raises UpstreamError.
    """
    conn, reused = _take(host, port)
    try:
        response = _exchange(conn, host, port, method, target, headers, body, length)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        if not (reused and body is None):
            raise UpstreamError(f"{host}:{port} did not answer: {exc}") from None
        conn = _connect(host, port)  # the kept connection had gone stale: once more
        try:
            response = _exchange(conn, host, port, method, target, headers, body, length)
        except (OSError, http.client.HTTPException) as again:
            conn.close()
            raise UpstreamError(f"{host}:{port} did not answer: {again}") from None
    response._portal_conn = (host, port, conn)
    return response


def status_code(host: str, port: int, target: str, headers: Mapping[str, str],
                timeout: float = 1.0) -> int | None:
    """One short GET on a connection of its own (never pooled): whether a session's service
    answers yet, and with which status (issue #17 item 5: "Jupyter answers"). None when it
    refuses, times out or closes within `timeout` seconds."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", target, headers=dict(headers))
        response = conn.getresponse()
        response.read(4096)
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _connect(host: str, port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
    return conn


def _take(host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
    now = time.monotonic()
    with _pool_lock:
        idle = _pool.get((host, port), [])
        while idle:
            since, conn = idle.pop()
            if now - since < POOL_IDLE and conn.sock is not None:
                return conn, True
            conn.close()
    return _connect(host, port), False


def _give(host: str, port: int, conn: http.client.HTTPConnection) -> None:
    with _pool_lock:
        idle = _pool.setdefault((host, port), [])
        if len(idle) < POOL_SIZE:
            idle.append((time.monotonic(), conn))
            return
    conn.close()


def _exchange(conn, host, port, method, target, headers, body, length):
    if conn.sock is None:
        conn.connect()
        conn.sock.settimeout(READ_TIMEOUT)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"{host}:{port}")
    for name, value in headers.items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(length or 0))
    conn.endheaders()
    if body is not None and length:
        _send_body(conn, body, length)
    return conn.getresponse()


def _send_body(conn: http.client.HTTPConnection, body, length: int) -> None:
    left = length
    while left > 0:
        block = body.read(min(CHUNK, left))
        if not block:
            break
        conn.send(block)
        left -= len(block)


def stream(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The body in chunks as they arrive. A body read to its end hands the connection back
    for reuse; one abandoned early (a browser that went away) closes it."""
    complete = False
    try:
        while True:
            try:
                chunk = response.read1(CHUNK)
            except (OSError, http.client.HTTPException):
                break
            if not chunk:
                complete = True
                break
            yield chunk
    finally:
        close(response, reuse=complete)


def close(response: http.client.HTTPResponse, reuse: bool = False) -> None:
    """Done with `response`: keep its connection for the next request when it is clean."""
    keep = reuse and not response.will_close
    response.close()
    host, port, conn = getattr(response, "_portal_conn", (None, None, None))
    if conn is None:
        return
    if keep:
        _give(host, port, conn)
    else:
        conn.close()


def open_websocket(host: str, port: int, target: str, *, subprotocols: list[str],
                   headers: Mapping[str, str]) -> Client:
    """A connected websocket client to ws://host:port/target. Raises UpstreamError."""
    try:
        return Client.connect(
            f"ws://{host}:{port}{target}", subprotocols=subprotocols or None,
            headers=dict(headers), receive_bytes=CHUNK,
        )
    except (OSError, ConnectionError) as exc:
        raise UpstreamError(f"{host}:{port} refused the websocket: {exc}") from None
