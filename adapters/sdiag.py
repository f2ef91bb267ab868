"""slurmctld's RPC counters, read with `sdiag`.

The portal promises that its pages read cached state and never ask slurmctld (the worker
does, on its own schedule): a page view should cost the controller no RPC. `sdiag` prints
how many RPCs slurmctld served since its statistics were last reset, per message type and
per user; the difference of two readings around some traffic is what that traffic (and
anything else talking to the controller meanwhile) cost. Used by bench/page_load.py.
Read-only: resetting the counters (`sdiag --reset`) would disturb other observers.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field

from adapters.errors import AdapterError
from adapters.runner import CommandRunner, command_path

# "\tREQUEST_JOB_INFO   ( 2003) count:319    ave_time:276    total_time:88340"
_TYPE_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*\(\s*\d+\)\s*count:(\d+)\b")
# "\troot            (       0) count:2477   ave_time:311    total_time:772102"
_USER_LINE = re.compile(r"^\s*(\S+)\s*\(\s*\d+\)\s*count:(\d+)\b")
_BY_TYPE = "Remote Procedure Call statistics by message type"
_BY_USER = "Remote Procedure Call statistics by user"


@dataclass(frozen=True)
class RpcCounts:
    """One reading: RPCs served per message type and per user (as sdiag names them)."""

    by_type: dict[str, int] = field(default_factory=dict)
    by_user: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    def since(self, earlier: RpcCounts) -> RpcCounts:
        """The RPCs served between `earlier` and this reading (types and users that did
        not change are left out)."""
        def diff(now: dict, then: dict) -> dict:
            out = {key: count - then.get(key, 0) for key, count in now.items()}
            return {key: count for key, count in out.items() if count}

        return RpcCounts(diff(self.by_type, earlier.by_type),
                         diff(self.by_user, earlier.by_user))


def parse_rpc_counts(text: str) -> RpcCounts:
    """The two RPC tables of sdiag's output; other sections are ignored. Raises ValueError
    when the output has no message-type table (not sdiag's, or a format we do not know)."""
    by_type: dict[str, int] = {}
    by_user: dict[str, int] = {}
    section = None
    seen_type_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(_BY_TYPE):
            section, seen_type_table = by_type, True
            continue
        if stripped.startswith(_BY_USER):
            section = by_user
            continue
        if section is None:
            continue
        match = (_TYPE_LINE if section is by_type else _USER_LINE).match(line)
        if match is None:
            section = None  # the table ended (the next section's heading)
            continue
        section[match.group(1)] = section.get(match.group(1), 0) + int(match.group(2))
    if not seen_type_table:
        raise ValueError("no 'Remote Procedure Call statistics by message type' in sdiag output")
    return RpcCounts(by_type, by_user)


def read_rpc_counts(runner: CommandRunner, *, bin_dir: str | None = None) -> RpcCounts:
    """Ask slurmctld now (runs `sdiag`; raises AdapterError when it cannot answer)."""
    sdiag = (os.path.join(bin_dir, "sdiag") if bin_dir
             else shutil.which("sdiag", path=command_path()) or "sdiag")
    out = runner.run([sdiag], timeout=30).stdout
    try:
        return parse_rpc_counts(out)
    except ValueError as exc:
        raise AdapterError(str(exc)) from exc
