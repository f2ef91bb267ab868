"""GPU rental overview (F5): GPUs allocated per hour over the past days, per GPU model.

Definition: "GPUs allocated in hour h" = the GPU-seconds of all allocations inside h,
divided by 3600. A 2-GPU job that runs 30 minutes of an hour counts 1.0 in it; partial
hours count fractionally, so the hours of a window add up to its GPU-hours.

Sources, never a per-request Slurm call (decision 3):
- finished allocations: the `accounting_records` table that the worker's incremental
  sacct import fills (portal.services.accounting_import);
- running allocations: the worker's cached squeue (running and completing jobs, from
  their start until now, GPUs from the allocated TRES); a job already in the accounting
  table counts from there only.

Scope: a user sees the allocations of the Slurm accounts of their projects (all members'
jobs, portal or login node); admins see the whole cluster (every account).

Hours are those of the portal's configured timezone (`default_timezone`, else UTC). The
window ends with the current (partial) hour and holds `days` × 24 hours. Peak hours are
configurable: `gpu_peak_weekdays` (0 = Monday, default Monday–Friday),
`gpu_peak_start_hour` and `gpu_peak_end_hour` (default 9 and 18: the hours starting
09:00 … 17:00 are peak), in that timezone; every other hour is off-peak.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.scheduler.values import parse_tres
from portal import db
from portal.models import AccountingRecord
from portal.services import ServiceError

HOUR = 3600
MAX_DAYS = 31
RUNNING = ("running", "completing")
UNTYPED = "gpu"  # the model of GPUs requested without a type


@dataclass(frozen=True)
class Allocation:
    """`gpus` GPUs of `model` held from `start` to `end` (naive UTC)."""

    start: datetime
    end: datetime
    gpus: int
    model: str


@dataclass(frozen=True)
class PeakHours:
    weekdays: frozenset[int]
    start_hour: int
    end_hour: int

    def is_peak(self, local: datetime) -> bool:
        """Whether the hour starting at `local` (in the overview's timezone) is peak."""
        return local.weekday() in self.weekdays and self.start_hour <= local.hour < self.end_hour


def bucket(allocations: Iterable[Allocation], start: datetime,
           hours: int) -> dict[str, list[float]]:
    """GPUs allocated per hour slot, per model: GPU-seconds in slot / 3600.

    Slot i covers [start + i h, start + (i+1) h). Parts of an allocation outside the
    window are dropped; an allocation with end <= start or no GPUs adds nothing. Pure.
    """
    out: dict[str, list[float]] = {}
    end = start + timedelta(seconds=hours * HOUR)
    for a in allocations:
        lo, hi = max(a.start, start), min(a.end, end)
        if a.gpus <= 0 or hi <= lo:
            continue
        series = out.setdefault(a.model, [0.0] * hours)
        first = int((lo - start).total_seconds() // HOUR)
        last = min(hours - 1, math.ceil((hi - start).total_seconds() / HOUR) - 1)
        for i in range(first, last + 1):
            s0 = start + timedelta(seconds=i * HOUR)
            overlap = (min(hi, s0 + timedelta(seconds=HOUR)) - max(lo, s0)).total_seconds()
            if overlap > 0:
                series[i] += a.gpus * overlap / HOUR
    return out


def parse_days(value: object, default: int = 7) -> int:
    """`days` as given (text or int): a whole number 1..31. Raises ServiceError."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not (
            1 <= int(text) <= MAX_DAYS):
        raise ServiceError(_l("days must be a whole number from 1 to %(max)d.", max=MAX_DAYS),
                           "invalid_days")
    return int(text)


def timezone() -> ZoneInfo:
    """The portal's configured timezone (`default_timezone`), else UTC."""
    name = current_app.config.get("DEFAULT_TIMEZONE") if has_app_context() else None
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def peak_hours() -> PeakHours:
    """The configured peak hours; a malformed setting falls back to the default."""
    cfg = current_app.config if has_app_context() else {}
    try:
        days = frozenset(int(d) for d in cfg.get("GPU_PEAK_WEEKDAYS", (0, 1, 2, 3, 4)))
        lo, hi = int(cfg.get("GPU_PEAK_START_HOUR", 9)), int(cfg.get("GPU_PEAK_END_HOUR", 18))
        if days <= set(range(7)) and 0 <= lo <= hi <= 24:
            return PeakHours(days, lo, hi)
    except (TypeError, ValueError):
        pass
    return PeakHours(frozenset(range(5)), 9, 18)


def window(now: datetime, days: int, tz: ZoneInfo) -> tuple[datetime, int]:
    """(first slot's start in naive UTC, number of slots): `days` × 24 local hours that
    end with the hour containing `now` (naive UTC)."""
    local = now.replace(tzinfo=UTC).astimezone(tz)
    top = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    hours = days * 24
    start = top - timedelta(seconds=(hours - 1) * HOUR)
    return start.replace(tzinfo=None), hours


def _finished(accounts: list[str] | None, start: datetime, end: datetime) -> tuple[
        list[Allocation], set[str]]:
    stmt = select(AccountingRecord.job_id, AccountingRecord.start_at, AccountingRecord.end_at,
                  AccountingRecord.alloc_gpus, AccountingRecord.gpu_model).where(
        AccountingRecord.alloc_gpus > 0, AccountingRecord.start_at < end,
        AccountingRecord.end_at > start)
    if accounts is not None:
        stmt = stmt.where(AccountingRecord.account.in_(accounts))
    out, ids = [], set()
    for job_id, s, e, gpus, model in db.session.execute(stmt):
        ids.add(job_id)
        out.append(Allocation(s, e, gpus, (model or UNTYPED).lower()))
    return out, ids


def live_allocations(jobs: Iterable[dict], now: datetime,
                     skip: set[str] = frozenset()) -> list[Allocation]:
    """Running jobs of the cached squeue as allocations from their start until `now`."""
    out = []
    for job in jobs:
        if job.get("state") not in RUNNING or job.get("id") in skip or not job.get("start_time"):
            continue
        try:
            tres = parse_tres(job.get("tres"))
            begun = datetime.fromisoformat(job["start_time"])
        except (ValueError, TypeError):
            continue
        begun = begun.astimezone(UTC).replace(tzinfo=None) if begun.tzinfo else begun
        typed = {k.split(":", 1)[1].lower(): v for k, v in tres.items()
                 if k.startswith("gres/gpu:")}
        counts = typed or ({UNTYPED: tres["gres/gpu"]} if "gres/gpu" in tres else {})
        for model, count in counts.items():
            if str(count).isdigit() and int(count) > 0:
                out.append(Allocation(begun, now, int(count), model))
    return out


def scope_accounts(user) -> list[str] | None:
    """None for admins (every account), else the accounts of the user's projects."""
    if user.is_admin:
        return None
    from portal.services.projects import visible_projects

    return sorted(p.account for p in visible_projects(user))


def overview(user, days: int = 7, now: datetime | None = None) -> dict:
    """The overview for `user` over the last `days` days (see the module docstring)."""
    from portal.services.project_usage import cached_jobs

    now = now or db.utcnow()
    tz, peak = timezone(), peak_hours()
    start, hours = window(now, days, tz)
    accounts = scope_accounts(user)
    allocations, finished_ids = _finished(accounts, start, now)
    jobs = [j for j in cached_jobs()[0] if accounts is None or j.get("account") in accounts]
    allocations += live_allocations(jobs, now, finished_ids)
    series = bucket(allocations, start, hours)
    models = sorted(series)
    rows = []
    for i in range(hours):
        local = (start + timedelta(seconds=i * HOUR)).replace(tzinfo=UTC).astimezone(tz)
        gpus = {m: round(series[m][i], 3) for m in models}
        rows.append({"start": local.isoformat(), "peak": peak.is_peak(local), "gpus": gpus,
                     "total": round(sum(series[m][i] for m in models), 3)})
    return {
        "days": days, "timezone": str(tz), "scope": "cluster" if accounts is None else "projects",
        "accounts": accounts, "models": models, "hours": rows,
        "peak_hours": {"weekdays": sorted(peak.weekdays), "start_hour": peak.start_hour,
                       "end_hour": peak.end_hour},
        "summary": summarize(rows),
    }


def summarize(rows: list[dict]) -> dict:
    """GPU-hours in total; average GPUs allocated in peak and off-peak hours; busiest hour."""
    def avg(sel):
        return round(sum(r["total"] for r in sel) / len(sel), 3) if sel else None

    busiest = max(rows, key=lambda r: r["total"], default=None)
    return {
        "gpu_hours": round(sum(r["total"] for r in rows), 3),
        "peak_average": avg([r for r in rows if r["peak"]]),
        "off_peak_average": avg([r for r in rows if not r["peak"]]),
        "busiest_hour": busiest["start"] if busiest and busiest["total"] > 0 else None,
        "busiest_gpus": busiest["total"] if busiest else 0,
    }


def by_hour_of_day(rows: list[dict]) -> list[dict]:
    """The hours folded by local hour of day: average GPUs and how many are peak hours."""
    out = []
    for hour in range(24):
        sel = [r for r in rows if datetime.fromisoformat(r["start"]).hour == hour]
        total = sum(r["total"] for r in sel)
        out.append({"hour": hour, "average": round(total / len(sel), 3) if sel else 0.0,
                    "max": max((r["total"] for r in sel), default=0.0),
                    "peak_days": sum(1 for r in sel if r["peak"]), "days": len(sel)})
    return out
