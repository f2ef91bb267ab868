"""One change to Slurm's accounting database at a time, from every portal process on a host.

Slurm 22.05 keeps associations as a nested set (lft/rgt numbers) and renumbers it inside
each add or remove. Two `sacctmgr` changes at the same moment interleave those renumberings:
measured on the dev cluster, three loops adding and removing accounts in parallel left an
account's sub-account inside another account's range (so `show account withcoord` reported
the other account's coordinator, `show assoc` missed users) within seconds, and the next
`show assoc` crashed slurmdbd (SIGSEGV in as_mysql_get_assocs) until the bad rows were
deleted by hand. The portal changes accounts from gunicorn threads, the worker and the CLI
at once, so every change it makes waits for this host-wide lock. (24.11 replaced lft/rgt
with a lineage column; the lock costs one flock there and stays.)

Reads are not serialised. The lock file sits in the portal's private state directory
(config SLURMDBD_LOCK_FILE), which `create_app` passes to `use()`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from filelock import FileLock, Timeout

from adapters.errors import CommandTimeout

_lock_file: str | None = None
# Longer than one sacctmgr call may take (the runner's default timeout is 30 s), so a
# change waits out the one before it and fails only when the lock holder hangs.
WAIT_SECONDS = 60.0


def use(path: str | os.PathLike | None) -> None:
    """Serialise changes through the lock file at `path` (None: no lock, e.g. unit tests)."""
    global _lock_file
    _lock_file = os.fspath(path) if path is not None else None


def lock_file() -> str | None:
    return _lock_file


@contextlib.contextmanager
def one_change_at_a_time(argv: list[str], wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the host-wide lock around one sacctmgr change; waits at most `wait` seconds
    (then CommandTimeout naming what it waited for)."""
    if _lock_file is None:
        yield
        return
    os.makedirs(os.path.dirname(_lock_file) or ".", mode=0o700, exist_ok=True)
    lock = FileLock(_lock_file, mode=0o600, thread_local=False)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise CommandTimeout(
            f"another change to Slurm's accounts did not finish within {wait:g}s "
            f"(lock {_lock_file})", argv) from None
    try:
        yield
    finally:
        lock.release()
