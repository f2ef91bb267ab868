"""Websocket plumbing shared by the Jupyter proxy and the web terminal.

flask-sock's `@sock.route` accepts the upgrade *before* the view runs, so a refused
user would already hold an open websocket. Here the view checks first and only then
accepts with flask-sock's server (simple-websocket), choosing the subprotocol the
upstream chose; `finished()` is flask-sock's way of handing the socket back to the
WSGI server (Werkzeug or gunicorn's threaded worker).
"""

from __future__ import annotations

import threading

from flask import Response, request
from simple_websocket import ConnectionClosed, Server

MAX_MESSAGE = 64 * 1024 * 1024
RECEIVE_BYTES = 64 * 1024


def requested_subprotocols() -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def accept(subprotocol: str | None = None) -> Server:
    """Complete the client's upgrade (with `subprotocol`, if the client offered it)."""
    return Server(request.environ, subprotocols=[subprotocol] if subprotocol else None,
                  receive_bytes=RECEIVE_BYTES, max_message_size=MAX_MESSAGE)


def close_quietly(ws, reason: int | None = None, message: str | None = None) -> None:
    try:
        ws.close(reason=reason, message=message)
    except (ConnectionClosed, OSError):
        pass


def finished(ws: Server) -> Response:
    """The response a websocket view returns once the socket is done (as flask-sock does)."""
    mode = ws.mode

    class WebSocketResponse(Response):
        def __call__(self, *args, **kwargs):
            if mode == "gunicorn":
                raise StopIteration()
            if mode == "werkzeug":
                return super().__call__(*args, **kwargs)
            return []

    return WebSocketResponse()


def _pump(src, dst, done: threading.Event) -> None:
    try:
        while not done.is_set():
            data = src.receive(timeout=1.0)
            if data is not None:
                dst.send(data)
    except (ConnectionClosed, OSError):
        pass
    finally:
        done.set()


def relay(client: Server, upstream) -> None:
    """Copy messages both ways until either side closes; then close both."""
    done = threading.Event()
    back = threading.Thread(target=_pump, args=(upstream, client, done), daemon=True)
    back.start()
    _pump(client, upstream, done)
    back.join(timeout=5)
    close_quietly(upstream)
    close_quietly(client)
