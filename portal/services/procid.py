"""Which process holds something, and whether it still exists (issue #13).

An Idempotency-Key claim (portal/services/idempotency.py) records the process that works
on it: this host (its name, boot id and PID namespace) plus the PID and the process's
start time (clock ticks since boot, /proc/<pid>/stat field 22). A PID alone is not
enough: after a crash the number can be given to another process, and a reboot starts
the numbering again; the start time and the boot id tell those apart.

`gone` answers only for claims made on this host in this PID namespace: a process of
another portal host (or container) cannot be seen from here, so `None` ("cannot tell")
leaves the decision to the time-based rule. Linux only (/proc); elsewhere nothing is
ever judged gone.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache

PROC = "/proc"


@dataclass(frozen=True)
class Holder:
    host: str  # "<hostname> <boot id> <pid namespace>"
    pid: int
    started: int  # clock ticks after boot


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


@lru_cache(maxsize=1)
def host_id() -> str:
    boot = (_read(f"{PROC}/sys/kernel/random/boot_id") or "-").strip() or "-"
    try:
        namespace = os.readlink(f"{PROC}/self/ns/pid")
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()} {boot} {namespace}"[:255]


def start_ticks(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) of `pid`, or None when it does not exist.
    The command name may hold spaces and ')': split after the last ')'."""
    text = _read(f"{PROC}/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rpartition(")")[2].split()
    try:
        return int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


def current() -> Holder | None:
    """This process, or None where /proc does not say (then no claim is judged gone)."""
    pid = os.getpid()
    found = start_ticks(pid)
    return Holder(host_id(), pid, found[0]) if found else None


def gone(host: str | None, pid: int | None, started: int | None) -> bool | None:
    """True: the holder certainly no longer runs (its PID is free, a zombie, another
    process, or this host has rebooted since); False: it runs; None: cannot tell here."""
    if not host or not pid or started is None:
        return None
    name, _, rest = host.partition(" ")
    boot, _, namespace = rest.partition(" ")
    mine_name, _, mine_rest = host_id().partition(" ")
    mine_boot, _, mine_namespace = mine_rest.partition(" ")
    if name != mine_name or namespace != mine_namespace or "-" in (boot, mine_boot):
        return None
    if boot != mine_boot:
        return True  # the host rebooted: no process of before runs
    found = start_ticks(pid)
    if found is None:
        return True
    ticks, state = found
    return ticks != started or state in ("Z", "X")
