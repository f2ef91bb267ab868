"""What crosses the proxy between a browser and a session's Jupyter (issue 12, finding 6).

Plain functions of header lists, no Flask: every data path that forwards to a session
(the WSGI proxy and its websockets here, an async gateway later) uses these, so they all
hold the same rules:
- upstream, the proxy authenticates on the user's behalf: `Authorization: token <secret>`
  is added to every request and websocket handshake, and whatever credentials the client
  sent (its own Authorization, a `?token=` parameter) are dropped;
- the secret never travels towards the browser: Jupyter's login cookie (a signed
  `username-…` cookie that opens the server from any address, around the whitelists) is
  neither passed down nor up, and a response header that carries the secret is dropped;
- the portal's own cookies never reach Jupyter, and Jupyter cannot overwrite them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit

# Not forwarded upstream: hop-by-hop headers, client credentials, what the portal sets.
DROP_REQUEST = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade", "host", "authorization", "cookie",
    "origin", "referer", "content-length", "x-forwarded-for", "x-forwarded-host",
    "x-forwarded-proto", "x-real-ip", "forwarded",
})
DROP_RESPONSE = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade", "server", "date",
})
# jupyter_server's login cookie is `username-<Host header>` (non-alphanumerics as "-").
LOGIN_COOKIE_PREFIX = "username-"
TOKEN_PARAM = "token"


def is_login_cookie(name: str) -> bool:
    return name.strip().startswith(LOGIN_COOKIE_PREFIX)


def filtered_cookies(header: str, drop: set[str], drop_login: bool = False) -> str:
    """The Cookie header without the names in `drop` (and Jupyter login cookies)."""
    kept = []
    for part in header.split(";"):
        name = part.split("=", 1)[0].strip()
        if part.strip() and name not in drop and not (drop_login and is_login_cookie(name)):
            kept.append(part.strip())
    return "; ".join(kept)


def upstream_request_headers(incoming: Iterable[tuple[str, str]], token: str,
                             portal_cookies: set[str]) -> dict[str, str]:
    """The headers to send to the session's Jupyter for one request or websocket
    handshake: the client's minus hop-by-hop, credentials and portal cookies, plus the
    session's secret as `Authorization: token <secret>`."""
    headers: dict[str, str] = {}
    cookie = ""
    for name, value in incoming:
        low = name.lower()
        if low == "cookie":
            cookie = f"{cookie}; {value}" if cookie else value
        elif low not in DROP_REQUEST and not low.startswith("sec-websocket"):
            headers[name] = value
    cookies = filtered_cookies(cookie, portal_cookies, drop_login=True)
    if cookies:
        headers["Cookie"] = cookies
    headers["Authorization"] = f"token {token}"
    return headers


def without_token_param(target: str) -> str:
    """The request target without `token=` query parameters (Jupyter would prefer one
    over the proxy's header); everything else stays exactly as the client sent it."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    kept = [part for part in query.split("&")
            if unquote_plus(part.split("=", 1)[0]) != TOKEN_PARAM]
    return f"{path}?{'&'.join(kept)}" if kept else path


def downstream_response_headers(pairs: Iterable[tuple[str, str]], token: str,
                                upstream_netloc: str,
                                portal_cookies: set[str]) -> list[tuple[str, str]]:
    """Jupyter's response headers as the browser may see them: no hop-by-hop headers,
    no cookie that would log the browser in to Jupyter or replace a portal cookie, no
    header carrying the secret, and redirects to the node made relative."""
    out = []
    for name, value in pairs:
        low = name.lower()
        if low in DROP_RESPONSE or (token and token in value):
            continue
        if low == "set-cookie":
            cookie_name = value.split("=", 1)[0].strip()
            if cookie_name in portal_cookies or is_login_cookie(cookie_name):
                continue
        if low == "location":
            parts = urlsplit(value)
            if parts.netloc == upstream_netloc:
                value = parts.path + (f"?{parts.query}" if parts.query else "")
        out.append((name, value))
    return out
