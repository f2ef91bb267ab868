"""Checks shared by job and session requests (F3, F6): whole-number fields and the
project's limits (issue 3: quota, per-user GPU cap, session time limit).

A request that can never fit the project is refused before anything is recorded or
submitted, with the limit in the message; Slurm would otherwise accept it and leave it
pending forever (e.g. QOSMaxWallDurationPerJobLimit for a job without --time in a
project whose MaxWall is shorter than the partition's default).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from portal.services import ServiceError


def int_field(data: Mapping, key: str, default: int, low: int, high: int, code: str,
              label) -> int:
    """A whole number in [low, high] from a form, JSON body or template.

    Raises ServiceError(code) naming the field and the limits for anything else
    (booleans, fractions, text, out of range).
    """
    raw = data.get(key, default)
    if raw in (None, ""):
        raw = default
    value = None
    if not isinstance(raw, bool):
        try:
            value = raw if isinstance(raw, int) else int(str(raw).strip())
        except (TypeError, ValueError):
            value = None
    if value is None or not low <= value <= high:
        raise ServiceError(
            _l("%(field)s must be a whole number from %(low)s to %(high)s.",
               field=label, low=low, high=high),
            code,
        )
    return value


def project_limits(project) -> dict:
    """The project's limits a single request must fit (None: no limit)."""
    if project is None:
        return {}
    return {
        "gpus_per_user": project.gpu_per_user,
        "gpus": project.gpu_limit,
        "cpus": project.cpu_limit,
        "mem_gb": project.mem_limit_gb,
        "max_minutes": project.max_wall_minutes,
    }


def check_hardware(hw: Mapping, limits: Mapping | None) -> None:
    """Refuse GPUs, CPUs or memory that no amount of waiting would grant in this project.

    Raises ServiceError("over_quota") with the limit and the request in the message.
    """
    limits = limits or {}
    checks = [
        ("gpus_per_user", hw.get("gpu_count", 0),
         _l("This project allows at most %(limit)s GPUs per user; you asked for %(asked)s.")),
        ("gpus", hw.get("gpu_count", 0),
         _l("This project's quota is %(limit)s GPUs; you asked for %(asked)s.")),
        ("cpus", hw.get("cpus", 0),
         _l("This project's quota is %(limit)s CPU cores; you asked for %(asked)s.")),
        ("mem_gb", hw.get("mem_gb", 0),
         _l("This project's quota is %(limit)s GB of memory; you asked for %(asked)s.")),
    ]
    for key, asked, message in checks:
        limit = limits.get(key)
        if limit is not None and asked > limit:
            raise ServiceError(message % {"limit": limit, "asked": asked}, "over_quota")


def capped_minutes(asked: int | None, limits: Mapping | None) -> int | None:
    """The Slurm time limit to pass: the project's session limit when none was asked for.

    Raises ServiceError("time_over_limit") when `asked` is longer than that limit.
    """
    cap = (limits or {}).get("max_minutes")
    if cap is None:
        return asked
    if asked is None:
        return cap
    if asked > cap:
        raise ServiceError(
            _l("This project allows at most %(limit)s hours per session or job; you asked "
               "for %(asked)s.", limit=_hours(cap), asked=_hours(asked)),
            "time_over_limit",
        )
    return asked


def _hours(minutes: int) -> str:
    return f"{minutes / 60:g}" if minutes % 6 == 0 else f"{minutes / 60:.1f}"
