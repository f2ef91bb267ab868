"""The client's address, trusting X-Forwarded-For only behind a configured number of proxies."""

from __future__ import annotations

import hashlib
import ipaddress

from flask import current_app, has_request_context, request


def normalise_address(text: str) -> str:
    """Canonical form of an IP address; IPv4-mapped IPv6 becomes plain IPv4.

    Raises ValueError for anything that is not an address.
    """
    addr = ipaddress.ip_address(text.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def client_address() -> str:
    trusted = int(current_app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if current_app.config.get("BEHIND_GATEWAY"):
        trusted += 1  # the session gateway (portal/gateway) is one more proxy, always there
    remote = request.remote_addr or "0.0.0.0"
    if trusted > 0:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h]
        # The address the outermost trusted proxy saw is `trusted` hops from the right.
        if len(hops) >= trusted:
            remote = hops[-trusted]
    try:
        return normalise_address(remote)
    except ValueError:
        return "0.0.0.0"


def session_identifier() -> str:
    """The fingerprint Flask-Login's "strong" session protection ties a login to.

    Flask-Login's own hashes the first `X-Forwarded-For` entry, which every client writes
    itself: a copied cookie replayed with the victim's address in that header passed the
    check (issue #12 finding 7). This one uses `client_address()` — the socket's peer, or
    the address the outermost trusted proxy saw — and the User-Agent.
    """
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{client_address()}|{agent}".encode()).hexdigest()


def request_actor():
    """(the acting portal user or None, the client's address) of the current request, or
    None outside one: an API token's user (`g.api_user`) before the logged-in user. The app
    factory gives it to `audit.use_web_actor`, so services read no request."""
    if not has_request_context():
        return None
    from flask import g
    from flask_login import current_user

    user = getattr(g, "api_user", None) or (
        current_user if current_user and current_user.is_authenticated else None
    )
    return user, client_address()
