"""Where `next=` may send a user: only paths on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """`target` when it is a local path, else None.

    Browsers read `\\` as `/` and ignore tabs and newlines inside URLs, so `/\\evil.com`,
    `///evil.com` and `/\\t/evil.com` all leave the site; refuse every such shape.
    """
    if not target or not isinstance(target, str) or len(target) > 2048:
        return None
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
