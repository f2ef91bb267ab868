"""The client's address, trusting X-Forwarded-For only behind a configured number of proxies."""

from __future__ import annotations

import ipaddress

from flask import current_app, request


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
