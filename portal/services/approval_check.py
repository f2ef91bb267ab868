"""What runs is what was approved (issue #12, finding 2).

A manager approves the request the portal recorded: GPUs (count and model), CPUs, memory,
time limit, partition, account, QOS and the portal's tag (the job's comment). The job's
owner can reach the same Slurm job from the login node, so before the operator releases
it, and again right after, the portal reads the job back from Slurm and compares; on any
difference the job is cancelled, not released (portal/services/approvals.py). The worker
repeats the check for approved jobs until they have started, which covers the window
between release and start on a site without the job_submit/lua policy
(etc/slurm/job_submit.lua) that refuses such changes in the first place.

The time limit and QOS are not chosen by the portal when the project sets no cap (the
partition's default time, the association's default QOS): those come from the snapshot
of the job taken right after the operator hold, stored in the order's "held" event.

Values are read from squeue's record of the job (`JobInfo`): `tres` is what a pending
job requests and what a running one was allocated; `gres` is its per-node request.
A running job is compared only on what allocation cannot round up (CPUs may be rounded
to whole cores on nodes with several threads per core).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.scheduler.values import gpus_by_model, parse_gres, parse_tres

FIELDS = ("gpus", "gpu_model", "cpus", "mem_mb", "time_limit", "partition", "account", "qos",
          "comment")
# Compared on a running job (equal, or at most the approved amount for mem_mb/time_limit).
RUNNING_FIELDS = ("gpus", "gpu_model", "mem_mb", "time_limit", "partition", "account", "qos",
                  "comment")
AT_MOST = ("mem_mb", "time_limit")
_MEM = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP]?)$")


def field(info, name: str):
    """A JobInfo attribute, or the same key of its plain dict (the worker's snapshot)."""
    return info.get(name) if isinstance(info, Mapping) else getattr(info, name, None)


def mem_mb(text: str | None) -> int | None:
    """A TRES memory amount ("1G", "1000M", "1.50G") in MB; None when absent or unreadable."""
    match = _MEM.fullmatch(text or "")
    if not match:
        return None
    power = "KMGTP".index(match.group(2) or "M") - 1
    return round(float(match.group(1)) * 1024**power)


def live_terms(info) -> dict:
    """The terms of a job as Slurm reports it (a JobInfo, or its plain dict from a snapshot).

    Raises ValueError when Slurm's GRES or TRES text cannot be read: a job whose terms
    cannot be read is never taken to match.
    """
    tres = parse_tres(field(info, "tres"))
    models = sorted(gpus_by_model(parse_gres(field(info, "gres"))))
    return {
        "gpus": int(tres.get("gres/gpu", 0) or 0),
        "gpu_model": ",".join(models) or None,
        "cpus": int(tres["cpu"]) if tres.get("cpu", "").isdigit() else None,
        "mem_mb": mem_mb(tres.get("mem")),
        "time_limit": field(info, "time_limit"),
        "partition": field(info, "partition"),
        "account": field(info, "account"),
        "qos": field(info, "qos"),
        "comment": field(info, "comment"),
    }


def snapshot(info) -> dict | None:
    """What to keep from the job right after the operator hold (JSON-safe), or None."""
    try:
        return live_terms(info)
    except (ValueError, TypeError):
        return None


def held_snapshot(order) -> dict:
    """The terms recorded with the order's latest "held" event ({} when none)."""
    for event in reversed(order.events or []):
        if event.kind == "held" and isinstance((event.details or {}).get("terms"), dict):
            return event.details["terms"]
    return {}


def approved_terms(order, tag: str | None, *, account: str) -> dict:
    """The terms the manager approves: the portal's record of the request.

    `account` is where the job must be (the project account before release,
    `<account>_approved` after). A value of None is not compared.
    """
    spec = order.spec or {}
    held = held_snapshot(order)
    mem_gb = spec.get("mem_gb")
    project = getattr(order, "project", None)
    return {
        "gpus": order.gpu_count or 0,
        "gpu_model": order.gpu_model if order.gpu_count else None,
        "cpus": spec.get("cpus", order.cpus),
        "mem_mb": int(mem_gb) * 1024 if mem_gb else None,
        "time_limit": spec.get("time_limit_min") or held.get("time_limit"),
        "partition": spec.get("partition") or held.get("partition"),
        "account": account,
        "qos": held.get("qos") or getattr(project, "qos_name", None),
        "comment": tag,
    }


def differences(approved: dict, info, *, running: bool = False) -> dict[str, list]:
    """Field → [approved, found] for every approved term the job does not keep.

    A pending job must match exactly; a running one is checked on RUNNING_FIELDS. Terms
    Slurm's record cannot be read from count as different ("unreadable").
    """
    try:
        live = live_terms(info)
    except (ValueError, TypeError) as exc:
        return {"unreadable": [None, str(exc)[:200]]}
    out: dict[str, list] = {}
    for name in RUNNING_FIELDS if running else FIELDS:
        want, have = approved.get(name), live.get(name)
        if want is None:
            continue
        if running and name in AT_MOST and have is not None and have <= want:
            continue
        if have != want:
            out[name] = [want, have]
    return out


def describe(diffs: dict[str, list]) -> str:
    """ "gpus: approved 2, found 4; account: approved proja, found projb" """
    return "; ".join(f"{name}: approved {want if want is not None else '-'}, "
                     f"found {have if have is not None else '-'}"
                     for name, (want, have) in diffs.items())
