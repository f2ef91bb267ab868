"""Unix account look-ups (the passwd database), for binding portal users to cluster accounts."""

from __future__ import annotations

import pwd
from dataclasses import dataclass


@dataclass(frozen=True)
class UnixAccount:
    name: str
    uid: int
    gid: int
    home: str


def lookup(name: str) -> UnixAccount | None:
    """The account called `name`, or None when the name does not resolve on this host."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return UnixAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
