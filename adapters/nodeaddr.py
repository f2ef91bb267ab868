"""Where to reach a compute node: Slurm's NodeAddr for a node name.

A session's connection file names the node it runs on (Slurm's node name). On the one-node
dev cluster that name resolved to this host; on a real cluster (and on the multi-node dev
cluster, whose nodes live in their own network namespaces with no DNS entry on the portal
host) the name need not resolve at all, and where it does it may name another network. The
address Slurm itself uses to reach the node's slurmd is the one the portal's proxy and
tests connect to. Looked up with `scontrol show node`, cached per process for a while.
"""

from __future__ import annotations

import re
import threading
import time

from adapters.errors import AdapterError
from adapters.runner import CommandRunner, find_command

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,252}$")
_ADDR = re.compile(r"(?:^|\s)NodeAddr=(\S+)")
TTL_SECONDS = 300.0
_cache: dict[tuple[str, str], tuple[float, str]] = {}
_lock = threading.Lock()


def node_address(runner: CommandRunner, node: str, *, bin_dir: str | None = None,
                 now: float | None = None) -> str:
    """The address Slurm reaches `node` at (its NodeAddr); the name itself when Slurm gives
    none or cannot be asked (then name resolution decides, as before)."""
    if not _NAME.fullmatch(node):
        raise ValueError(f"invalid node name: {node!r}")
    now = time.monotonic() if now is None else now
    key = (runner.env.get("SLURM_CONF", ""), node)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    scontrol = find_command("scontrol", bin_dir)
    try:
        out = runner.run([scontrol, "--oneliner", "show", "node", node], timeout=10).stdout
    except AdapterError:
        return node
    match = _ADDR.search(out)
    addr = match.group(1) if match and _NAME.fullmatch(match.group(1)) else node
    with _lock:
        _cache[key] = (now, addr)
    return addr
