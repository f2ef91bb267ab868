"""The gateway's aiohttp server: one public listener for pages, API, `/s/<id>/` and the terminal.

- `/s/<id>/…` (HTTP, streamed bodies, websockets) goes straight to the session's Jupyter:
  the decision comes from the app once per connection (a grant is reused for DECISION_TTL
  seconds by the same cookies, address, Host, Origin and method class), headers cross as
  portal/proxy/headers.py says, large bodies of known length go socket to socket
  (portal/gateway/bodyrelay.py), and open websockets are re-checked every RECHECK seconds
  in one batched call, closing those whose grant the app no longer confirms;
- `/_gateway/…` is the app's internal interface: never forwarded from a client;
- everything else is forwarded to the app (gunicorn, on a private unix socket or port),
  websockets included (the web terminal), with the client's address appended to
  X-Forwarded-For (the app counts the gateway as one more trusted proxy: BEHIND_GATEWAY).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from itsdangerous import BadSignature
from yarl import URL

from portal.gateway import bodyrelay
from portal.gateway.internal import (
    DECISION_MAX_AGE,
    KEY_HEADER,
    WEBTERM,
    gateway_key,
    serializer,
)
from portal.proxy import headers as rules_headers
from portal.services.proxy import SAFE_METHODS, same_origin

log = logging.getLogger("portal.gateway")
SESSION_PATH = re.compile(r"^/s/([0-9]+)/")
TERMINAL_PATH = re.compile(r"^/terminal/([0-9]+)/ws(?:\?|$)")
TERMINAL_AUTH_TIMEOUT = 120.0
TERMINAL_QUEUE = 64  # output chunks waiting for the browser before the pty is paused
HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                 "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# Decisions are reused this long; open websockets are re-checked this often. A deleted
# session's sockets close within RECHECK + one round trip (the issue asks for 5 s).
DECISION_TTL = 2.0
RECHECK = 2.0
MAX_MESSAGE = 64 * 1024 * 1024
# Streamed bodies from a session (downloads): up to this much is read ahead from Jupyter
# (twice this before its socket is paused) and queued for the client before the relay
# waits. With aiohttp's 64 KiB defaults both sockets were paused and resumed every few
# chunks, each a round of the event loop (bench/gateway_capacity.py).
STREAM_BUFFER = 1 << 20
CLOSE_REVOKED = 4403


@dataclass(frozen=True)
class Decision:
    session_id: int
    host: str
    port: int
    token: str
    grant: tuple


class Gateway:
    def __init__(self, app_url: str, secret: str, portal_cookies: set[str],
                 recheck: float = RECHECK, decision_ttl: float = DECISION_TTL,
                 runner=None):
        self.app_url = app_url
        self.secret = secret
        self.key = gateway_key(secret)
        self.portal_cookies = portal_cookies
        self.recheck_every = recheck
        self.decision_ttl = decision_ttl
        # The adapters' CommandRunner: with it the gateway serves the web terminal itself
        # (a pty per terminal, no app thread); without, it relays it to the app.
        self.runner = runner
        self.decisions: dict[tuple, tuple[float, Decision]] = {}
        self.inflight: dict[tuple, asyncio.Future] = {}  # key -> the one authorize call
        self.open: dict[tuple, set] = {}  # grant -> {_WebSocketPair | _Stream}
        # Idle reclaim (portal/services/idle.py): sessions whose open websockets carried
        # client messages (Jupyter kernels, terminal input) since the last re-check; sent
        # with it, so a busy socket costs no extra call.
        self.active: dict[int, str] = {}
        self.app_session: aiohttp.ClientSession | None = None
        self.up_session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------
    def base(self) -> str:
        return "http://portal-app" if self.app_url.startswith("unix:") else \
            self.app_url.rstrip("/")

    async def start(self, _app=None) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=15, sock_connect=15)
        if self.app_url.startswith("unix:"):
            connector = aiohttp.UnixConnector(path=self.app_url[5:], limit=0)
        else:
            connector = aiohttp.TCPConnector(limit=0)
        self.app_session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar())
        self.up_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                                timeout=timeout, auto_decompress=False,
                                                cookie_jar=aiohttp.DummyCookieJar())
        self._task = asyncio.create_task(self._recheck_loop())

    async def stop(self, _app=None) -> None:
        if self._task:
            self._task.cancel()
        for conns in list(self.open.values()):
            for conn in list(conns):
                await conn.close()
        await self.app_session.close()
        await self.up_session.close()

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 ** 3)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app

    # -- dispatch ------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = request.raw_path
        if raw.startswith("/_gateway") or request.path.startswith("/_gateway"):
            raise web.HTTPNotFound()
        match = SESSION_PATH.match(raw)
        if match:
            return await self.session_request(request, int(match.group(1)))
        if self._is_websocket(request):
            match = TERMINAL_PATH.match(raw)
            if match and self.runner is not None:
                return await self.terminal(request, int(match.group(1)))
            return await self.app_websocket(request)
        return await self.app_http(request)

    @staticmethod
    def _is_websocket(request: web.Request) -> bool:
        return request.headers.get("Upgrade", "").lower() == "websocket"

    @staticmethod
    def forwarded_for(request: web.Request) -> str:
        peer = request.remote or "0.0.0.0"
        earlier = request.headers.get("X-Forwarded-For", "").strip()
        return f"{earlier}, {peer}" if earlier else peer

    def app_headers(self, request: web.Request, websocket: bool = False) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in request.headers.items():
            low = name.lower()
            if low in HOP or low == "x-forwarded-for" or low == KEY_HEADER.lower():
                continue
            if websocket and low.startswith("sec-websocket"):
                continue
            out[name] = f"{out[name]}, {value}" if name in out and low != "cookie" else value
        out["X-Forwarded-For"] = self.forwarded_for(request)
        return out

    # -- the app -------------------------------------------------------------------
    async def app_http(self, request: web.Request) -> web.StreamResponse:
        url = URL(self.base() + request.raw_path, encoded=True)
        data = request.content if request.body_exists else None
        try:
            async with self.app_session.request(
                    request.method, url, headers=self.app_headers(request), data=data,
                    allow_redirects=False, skip_auto_headers=("User-Agent", "Accept-Encoding",
                                                              "Content-Type")) as up:
                return await self._relay_response(request, up, list(up.headers.items()))
        except aiohttp.ClientError as exc:
            log.warning("app unreachable: %s", exc)
            return web.Response(status=502, text="The portal is restarting; try again.")

    async def _relay_response(self, request, up, pairs,
                              take_over: bool = False) -> web.StreamResponse:
        resp = web.StreamResponse(status=up.status, reason=up.reason)
        for name, value in pairs:
            if name.lower() not in HOP:
                resp.headers.add(name, value)
        await resp.prepare(request)
        if request.transport is not None:
            request.transport.set_write_buffer_limits(high=STREAM_BUFFER)
        if take_over and bodyrelay.can_take_over(request, up, STREAM_BUFFER):
            try:
                await bodyrelay.relay_body(request, resp, up, STREAM_BUFFER)
            except ConnectionError:  # either side went away (or a revoke cut it)
                if request.transport is not None:
                    request.transport.abort()  # the client must not take it as complete
                return resp
        elif request.method != "HEAD":
            async for chunk in up.content.iter_any():  # as it arrives: no re-chunking copy
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def app_websocket(self, request: web.Request) -> web.StreamResponse:
        url = URL(self.base() + request.raw_path, encoded=True)
        try:
            upstream = await self.app_session.ws_connect(
                url, headers=self.app_headers(request, websocket=True),
                protocols=self._protocols(request), max_msg_size=MAX_MESSAGE,
                autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status or 502)
        except aiohttp.ClientError:
            return web.Response(status=502)
        return await self._relay_websocket(request, upstream, None)

    # -- sessions ------------------------------------------------------------------
    async def session_request(self, request: web.Request, session_id: int):
        websocket = self._is_websocket(request)
        origin = request.headers.get("Origin")
        if websocket and (origin is None or not same_origin(origin, request.host)):
            raise web.HTTPForbidden(text="Websockets from other sites are refused.")
        decision = await self.decide(request, session_id, websocket)
        if isinstance(decision, web.StreamResponse):
            return decision
        target = rules_headers.without_token_param(request.raw_path)
        url = URL(f"http://{decision.host}:{decision.port}{target}", encoded=True)
        headers = rules_headers.upstream_request_headers(
            request.headers.items(), decision.token, self.portal_cookies)
        if websocket:
            return await self._session_websocket(request, decision, url, headers)
        if request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
        data = request.content if request.body_exists else None
        try:
            async with self.up_session.request(
                    request.method, url, headers=headers, data=data, allow_redirects=False,
                    read_bufsize=STREAM_BUFFER,
                    skip_auto_headers=("User-Agent", "Accept-Encoding",
                                       "Content-Type")) as up:
                pairs = rules_headers.downstream_response_headers(
                    up.headers.items(), decision.token, f"{decision.host}:{decision.port}",
                    self.portal_cookies)
                stream = _Stream(request, up)
                self._track(decision.grant, stream)
                try:
                    return await self._relay_response(request, up, pairs, take_over=True)
                finally:
                    self._untrack(decision.grant, stream)
        except aiohttp.ClientError:
            return web.Response(status=502, text="The session's Jupyter does not answer.")

    async def _session_websocket(self, request, decision: Decision, url, headers):
        try:
            upstream = await self.up_session.ws_connect(
                url, headers=headers, protocols=self._protocols(request),
                max_msg_size=MAX_MESSAGE, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            return web.Response(status=exc.status or 502)
        except aiohttp.ClientError:
            return web.Response(status=502, text="The session's Jupyter does not answer.")
        return await self._relay_websocket(request, upstream, decision.grant)

    @staticmethod
    def _protocols(request: web.Request) -> list[str]:
        header = request.headers.get("Sec-WebSocket-Protocol", "")
        return [p.strip() for p in header.split(",") if p.strip()]

    async def _relay_websocket(self, request, upstream, grant):
        client = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (),
            max_msg_size=MAX_MESSAGE, autoping=True, compress=False)
        await client.prepare(request)
        pair = _WebSocketPair(client, upstream)
        if grant is not None:
            self._track(grant, pair)
        try:
            await asyncio.gather(self._pump(client, upstream, self._mark(grant, "proxy")),
                                 self._pump(upstream, client))
        finally:
            if grant is not None:
                self._untrack(grant, pair)
        return client

    def _track(self, grant, conn) -> None:
        self.open.setdefault(grant, set()).add(conn)

    def _untrack(self, grant, conn) -> None:
        conns = self.open.get(grant)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                self.open.pop(grant, None)

    def _mark(self, grant, kind: str):
        """A callback marking the grant's session as used (idle reclaim)."""
        if grant is None:
            return None
        return lambda: self.active.__setitem__(int(grant[0]), kind)

    @staticmethod
    async def _pump(src, dst, on_message=None) -> None:
        try:
            async for msg in src:
                if on_message is not None:
                    on_message()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                else:
                    break
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await dst.close(code=src.close_code or aiohttp.WSCloseCode.OK)

    # -- decisions -----------------------------------------------------------------
    async def decide(self, request: web.Request, session_id: int, websocket: bool):
        """The app's grant for this request (cached briefly), or its refusal response.

        Single flight: concurrent requests with one cache key (a JupyterLab tab opening its
        sockets, a bench opening a thousand) share ONE authorize call to the app instead of
        each missing the cache at the same moment."""
        method = request.method.upper()
        unsafe = websocket or method not in SAFE_METHODS
        xff = self.forwarded_for(request)
        key = (session_id, request.headers.get("Cookie", ""),
               request.headers.get("User-Agent", ""), xff, request.host,
               request.headers.get("Origin"), unsafe, websocket)
        cached = self.decisions.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.decision_ttl:
            return cached[1]
        flight = self.inflight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._ask_app(request, session_id, websocket,
                                                         method, xff, key))
            self.inflight[key] = flight
            flight.add_done_callback(lambda _f: self.inflight.pop(key, None))
        answer = await asyncio.shield(flight)
        if isinstance(answer, Decision):
            return answer
        status, body, pairs = answer
        out = web.Response(status=status, body=body)
        for name, value in pairs:
            out.headers.add(name, value)
        return out

    async def _ask_app(self, request, session_id, websocket, method, xff, key):
        """One authorize call: a Decision (cached), or (status, body, headers) to relay."""
        headers = self.internal_headers(request, xff)
        url = URL(self.base()).with_path(f"/_gateway/authorize/{session_id}").with_query(
            {"ws": "1" if websocket else "0", "method": method})
        try:
            async with self.app_session.post(url, headers=headers,
                                             allow_redirects=False) as resp:
                body = await resp.read()
                if resp.status == 200 and resp.content_type == "application/json":
                    decision = self._verify(await resp.json())
                    if decision is None:
                        return 502, b"Bad gateway decision.", ()
                    if len(self.decisions) > 4096:
                        self.decisions.clear()
                    self.decisions[key] = (time.monotonic(), decision)
                    return decision
                pairs = [(n, v) for n, v in resp.headers.items()
                         if n.lower() not in HOP and n.lower() != "content-length"]
                return resp.status, body, pairs
        except aiohttp.ClientError:
            return 502, b"The portal is restarting; try again.", ()

    def internal_headers(self, request: web.Request, xff: str | None = None) -> dict:
        """The client's own identity (cookies, agent, address, Host, Origin, language) for
        a call to the app's internal interface, plus the gateway's key."""
        headers = {KEY_HEADER: self.key, "Host": request.host,
                   "X-Forwarded-For": xff or self.forwarded_for(request)}
        for name in ("Cookie", "User-Agent", "Origin", "Accept-Language", "Accept"):
            if name in request.headers:
                headers[name] = request.headers[name]
        return headers

    # -- the web terminal ------------------------------------------------------------
    async def terminal(self, request: web.Request, session_id: int):
        """xterm.js <-> a pty running the app-decided `srun --overlap --pty` as the owner
        (portal/proxy/terminal.py's protocol: JSON input/resize/auth, binary output)."""
        origin = request.headers.get("Origin")
        if origin is None or not same_origin(origin, request.host):
            raise web.HTTPForbidden(text="Websockets from other sites are refused.")
        headers = self.internal_headers(request)
        try:
            async with self.app_session.post(
                    URL(self.base()).with_path(f"/_gateway/terminal/{session_id}"),
                    headers=headers, allow_redirects=False) as resp:
                body = await resp.read()
                if resp.status != 200 or resp.content_type != "application/json":
                    out = web.Response(status=resp.status, body=body)
                    for name, value in resp.headers.items():
                        if name.lower() not in HOP and name.lower() != "content-length":
                            out.headers.add(name, value)
                    return out
                payload = await resp.json()
        except aiohttp.ClientError:
            return web.Response(status=502, text="The portal is restarting; try again.")
        try:
            data = serializer(self.secret).loads(payload.get("decision", ""),
                                                 max_age=DECISION_MAX_AGE)
        except BadSignature:
            return web.Response(status=502, text="Bad gateway decision.")
        if data.get("kind") != WEBTERM or data.get("sid") != session_id:
            return web.Response(status=502, text="Bad gateway decision.")
        texts = payload.get("texts") or {}
        grant = (session_id, int(data["uid"]), data["ver"], data["client"], WEBTERM)
        client = web.WebSocketResponse(max_msg_size=1 << 20, autoping=True, compress=False)
        await client.prepare(request)
        password = None
        if data.get("password"):
            await client.send_bytes(str(texts.get("prompt", "Password: ")).encode())
            with contextlib.suppress(asyncio.TimeoutError, ValueError, TypeError):
                msg = await client.receive(timeout=TERMINAL_AUTH_TIMEOUT)
                message = json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else {}
                if isinstance(message, dict) and isinstance(message.get("password"), str):
                    password = message["password"]
        try:
            async with self.app_session.post(
                    URL(self.base()).with_path(f"/_gateway/terminal/{session_id}/start"),
                    headers=headers, json={"decision": payload["decision"],
                                           "password": password}) as resp:
                started = resp.status == 200
        except aiohttp.ClientError:
            started = False
        if not started:
            with contextlib.suppress(Exception):
                await client.send_bytes(str(texts.get("wrong", "\r\nRefused.\r\n")).encode())
            await client.close(code=4003, message=b"wrong password")
            return client
        if data.get("password"):
            await client.send_bytes(b"\r\n")
        return await self._run_terminal(request, client, data, texts, grant)

    async def _run_terminal(self, request, client, data, texts, grant):
        from adapters import factory
        from adapters.errors import AdapterError

        def size(name: str, default: int) -> int:
            try:
                return max(1, min(int(request.query.get(name, default)), 1000))
            except ValueError:
                return default

        try:
            proc = await asyncio.to_thread(factory.make_terminal, self.runner, list(data["argv"]),
                                           user=data["user"], rows=size("rows", 24),
                                           cols=size("cols", 80))
        except AdapterError as exc:
            failed = str(texts.get("failed", "\r\n{error}\r\n")).replace("{error}", exc.message)
            with contextlib.suppress(Exception):
                await client.send_bytes(failed.encode())
            await client.close()
            return client
        term = _Terminal(client, proc)
        self._track(grant, term)
        loop = asyncio.get_running_loop()
        output: asyncio.Queue = asyncio.Queue()

        def readable() -> None:
            try:
                chunk = os.read(proc.fd, 64 * 1024)
            except OSError:  # EIO: every process on the pty's other side has gone
                chunk = b""
            output.put_nowait(chunk or None)
            if not chunk or output.qsize() >= TERMINAL_QUEUE:
                loop.remove_reader(proc.fd)  # ended, or the browser is slow: pause the pty

        async def pump_output() -> None:
            while True:
                chunk = await output.get()
                if chunk is None:
                    break
                await client.send_bytes(chunk)
                if output.qsize() == 0 and term.reading:
                    loop.add_reader(proc.fd, readable)
            await client.close()

        loop.add_reader(proc.fd, readable)
        sender = asyncio.create_task(pump_output())
        try:
            async for msg in client:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if message.get("t") == "i" and isinstance(message.get("d"), str):
                    self.active[session_id_of(grant)] = "terminal"
                    await asyncio.to_thread(proc.write, message["d"].encode("utf-8", "replace"))
                elif message.get("t") == "r":
                    with contextlib.suppress(ValueError, TypeError, OSError):
                        proc.resize(message.get("rows", 24), message.get("cols", 80))
        except (OSError, ConnectionError):
            pass
        finally:
            term.reading = False
            loop.remove_reader(proc.fd)
            sender.cancel()
            self._untrack(grant, term)
            await asyncio.to_thread(proc.close)
            with contextlib.suppress(Exception):
                await client.close()
        return client

    def _verify(self, payload: dict) -> Decision | None:
        try:
            data = serializer(self.secret).loads(payload.get("decision", ""),
                                                 max_age=DECISION_MAX_AGE)
        except BadSignature:
            return None
        grant = (int(data["sid"]), int(data["uid"]), data["ver"], data["client"])
        return Decision(int(data["sid"]), data["host"], int(data["port"]), data["token"], grant)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_every)
            if not self.open:
                continue
            try:
                await self.recheck()
            except Exception:  # noqa: BLE001 - the loop must survive; the app may restart
                log.exception("re-checking open connections failed")

    async def recheck(self) -> None:
        grants = list(self.open)
        active, self.active = self.active, {}
        async with self.app_session.post(
                URL(self.base()).with_path("/_gateway/recheck"),
                headers={KEY_HEADER: self.key},
                json={"grants": [list(g) for g in grants],
                      "active": [[sid, kind] for sid, kind in active.items()]}) as resp:
            if resp.status != 200:
                log.warning("re-check answered %s", resp.status)
                return
            valid = {tuple(v) for v in (await resp.json()).get("valid", [])}
        revoked = [g for g in grants if g not in valid]
        if not revoked:
            return
        gone = set(revoked)
        for key in [k for k, (_, d) in self.decisions.items() if d.grant in gone]:
            self.decisions.pop(key, None)
        for grant in revoked:
            for conn in list(self.open.pop(grant, ())):
                await conn.close(revoked=True)


def session_id_of(grant) -> int:
    return int(grant[0])


class _WebSocketPair:
    """An open websocket: the client's side and the session's."""

    def __init__(self, client: web.WebSocketResponse, upstream):
        self.client, self.upstream = client, upstream

    async def close(self, revoked: bool = False) -> None:
        with contextlib.suppress(Exception):
            if revoked:
                await self.client.close(code=CLOSE_REVOKED,
                                        message=b"session no longer available")
            else:
                await self.client.close()
        with contextlib.suppress(Exception):
            await self.upstream.close()


class _Terminal:
    """An open web terminal: a revoked one is closed (the pty is hung up as it ends)."""

    def __init__(self, client: web.WebSocketResponse, proc):
        self.client, self.proc, self.reading = client, proc, True

    async def close(self, revoked: bool = False) -> None:
        with contextlib.suppress(Exception):
            await self.client.close(code=CLOSE_REVOKED if revoked else 1001,
                                    message=b"session no longer available" if revoked else b"")


class _Stream:
    """A streamed HTTP response from a session (a download, a long poll): a revoked one is
    cut (the connection closed mid-body), so the client can tell it did not complete."""

    def __init__(self, request: web.Request, upstream):
        self.request, self.upstream = request, upstream

    async def close(self, revoked: bool = False) -> None:
        with contextlib.suppress(Exception):
            self.upstream.close()
        transport = self.request.transport
        if transport is not None:
            transport.abort()  # not close(): that would first flush to a slow reader


def gateway_for(flask_app, app_url: str, **kwargs) -> Gateway:
    """A gateway for this app: its secret, its cookie names and its command runner (the
    web terminal runs through the adapters, as the app's own terminal does)."""
    from adapters import factory

    config = flask_app.config
    cookies = {config.get("SESSION_COOKIE_NAME", "session"),
               config.get("REMEMBER_COOKIE_NAME", "remember_token")}
    kwargs.setdefault("runner", factory.make_runner(config))
    return Gateway(app_url, config["SECRET_KEY"], cookies, **kwargs)


def serve(gateway: Gateway, host: str, port: int) -> None:
    """Run in the foreground (the `portal gateway` command)."""
    web.run_app(gateway.web_app(), host=host, port=port, access_log=None,
                handle_signals=True, print=None, backlog=2048)


class Background:
    """The gateway on its own event loop in a thread (tests, benches): `.url`, `.stop()`."""

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 0):
        self.gateway = gateway
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._runner: web.AppRunner | None = None

        async def boot():
            self._runner = web.AppRunner(gateway.web_app(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host, port, backlog=2048)
            await site.start()
            self.port = self._runner.addresses[0][1]
            ready.set()

        def main():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(boot())
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        if not ready.wait(15):
            raise RuntimeError("the gateway did not start")
        self.host = f"{host}:{self.port}"
        self.url = f"http://{self.host}"

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
