"""Session monitoring (F3): ingest each session's samples into the database, serve series.

Why the worker ingests (and the API does not read the file): decision 3 says pages cost
the cluster nothing per viewer. A chart polls every few seconds; reading the user's file
per request would start a `runuser … dd` per poll and per viewer, and keep the whole
lifetime's samples around to downsample on every request. Instead the worker, once per
cycle and per open session, reads only the bytes added since its last visit (one `stat`
and at most one `dd` as the session's owner, through adapters/userfiles.py, path from the
database: decision 1) and merges each sample into buckets: 10 s (the raw samples, the
session's last hour), 60 s (its last day) and 300 s (its lifetime). The API then answers
from at most ~1,500 rows with one indexed query, whoever and however many watch.

The sampler (jobscripts/session_monitor.py) numbers its samples ("n") across file
rotations (metrics.jsonl → metrics.jsonl.1 past 1 MiB): a file shorter than the cursor's
offset, or one whose next sample is not the expected number, was rotated, and the rest
of the old one is read from `.1` first.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from adapters.errors import AdapterError
from portal import db
from portal.db import utcnow
from portal.models import Session, SessionMetric, SessionMetricCursor
from portal.models.monitoring import SERIES
from portal.services import ServiceError
from portal.services.sessionscript import METRICS_NAME

log = logging.getLogger(__name__)

RESOLUTIONS = (10, 60, 300)
KEEP = {10: timedelta(hours=1), 60: timedelta(hours=24)}  # 300 s buckets: for good
READ_LIMIT = 256 * 1024  # bytes per session per cycle (~1,700 samples); the rest next time
RANGES = ("1h", "lifetime")
LIVE_STATES = ("starting", "running", "deleting")
ENDED_GRACE = timedelta(minutes=3)  # keep reading a while after the end (last samples)
NO_GPU_TELEMETRY = "no GPU telemetry on this node"
NO_GPUS = "no GPUs in this session"
GPU_NOTES = {NO_GPU_TELEMETRY: _l("no GPU telemetry on this node"),
             NO_GPUS: _l("no GPUs in this session")}


# ---- pure helpers (tests/unit/monitoring) ----

def parse_lines(data: bytes) -> tuple[list[dict], int]:
    """Complete JSON lines of `data` → (samples, bytes consumed). A partial last line is
    left for the next read; lines that are not a sample object are skipped."""
    end = data.rfind(b"\n") + 1
    samples = []
    for line in data[:end].splitlines():
        try:
            sample = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(sample, dict) and _num(sample.get("t")) is not None \
                and isinstance(sample.get("n"), int):
            samples.append(sample)
    return samples, end


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def sample_values(sample: dict) -> dict:
    """A sample → {series: value or None}; GPU utilisation is the mean over the job's
    GPUs, GPU memory the sum."""
    values = {name: _num(sample.get(name)) for name in SERIES}
    gpus = sample.get("gpu")
    if isinstance(gpus, list) and gpus:
        utils = [_num(g.get("util")) for g in gpus if isinstance(g, dict)]
        utils = [u for u in utils if u is not None]
        values["gpu_util"] = sum(utils) / len(utils) if utils else None
        for key, name in (("mem", "gpu_mem"), ("mem_total", "gpu_mem_total")):
            parts = [_num(g.get(key)) for g in gpus if isinstance(g, dict)]
            parts = [p for p in parts if p is not None]
            values[name] = sum(parts) if parts else None
    return values


def bucket_start(t: float, resolution: int) -> datetime:
    start = int(t // resolution) * resolution
    return datetime.fromtimestamp(start, UTC).replace(tzinfo=None)


def merge(current: dict, n: int, values: dict) -> dict:
    """The bucket's means after one more sample (n samples so far). A series missing
    from either side keeps the other side's value."""
    merged = {}
    for name in SERIES:
        old, new = current.get(name), values.get(name)
        if old is None or n == 0:
            merged[name] = new
        elif new is None:
            merged[name] = old
        else:
            merged[name] = (old * n + new) / (n + 1)
    return merged


def downsample(samples: list[dict], resolution: int) -> dict[datetime, tuple[int, dict]]:
    """Samples → {bucket start: (count, means)}: what ingestion stores, computed at once."""
    buckets: dict[datetime, tuple[int, dict]] = {}
    for sample in samples:
        key = bucket_start(float(sample["t"]), resolution)
        n, means = buckets.get(key, (0, {}))
        buckets[key] = (n + 1, merge(means, n, sample_values(sample)))
    return buckets


# ---- ingestion (worker) ----

def _path(session: Session, suffix: str = "") -> str:
    return f"{session.directory}/{METRICS_NAME}{suffix}"


def _read_new(session: Session, cursor: SessionMetricCursor, files) -> list[dict]:
    """Samples after the cursor, reading as the owner; moves the cursor's offset."""
    user = session.user.unix_user
    size = files.size(user, _path(session))
    if size is None:
        return []
    samples: list[dict] = []
    if size < cursor.offset:  # rotated: finish the old file first
        samples += _read_from(files, user, _path(session, ".1"), cursor.offset)[0]
        cursor.offset = 0
    if size == cursor.offset:
        return samples
    new, used = _read_from(files, user, _path(session), cursor.offset, size)
    if new and cursor.last_n and new[0]["n"] != cursor.last_n + 1 and cursor.offset:
        # the file was rotated and has grown past our offset again: start it over
        samples += _read_from(files, user, _path(session, ".1"), cursor.offset)[0]
        new, used = _read_from(files, user, _path(session), 0, size)
        cursor.offset = 0
    cursor.offset += used
    return samples + new


def _read_from(files, user: str, path: str, offset: int, size: int | None = None):
    length = READ_LIMIT if size is None else min(READ_LIMIT, size - offset)
    try:
        data = files.read_range(user, path, offset, length)
    except AdapterError:
        return [], 0
    return parse_lines(data)


def _store(session_id: int, samples: list[dict]) -> None:
    for resolution in RESOLUTIONS:
        for at, (count, means) in downsample(samples, resolution).items():
            row = db.session.scalar(select(SessionMetric).filter_by(
                session_id=session_id, resolution=resolution, at=at))
            if row is None:
                row = SessionMetric(session_id=session_id, resolution=resolution, at=at, n=0)
                db.session.add(row)
            old = {name: getattr(row, name) for name in SERIES}
            combined = _combine(old, row.n, means, count)
            for name in SERIES:
                setattr(row, name, combined[name])
            row.n += count


def _combine(old: dict, n_old: int, new: dict, n_new: int) -> dict:
    """Two buckets' means → the mean of all their samples."""
    out = {}
    for name in SERIES:
        a, b = old.get(name), new.get(name)
        if a is None or n_old == 0:
            out[name] = b
        elif b is None:
            out[name] = a
        else:
            out[name] = (a * n_old + b * n_new) / (n_old + n_new)
    return out


def ingest(session: Session, files, now: datetime | None = None) -> int:
    """Read and store the session's new samples; returns how many. Never raises for a
    missing or unreadable file (recorded on the cursor)."""
    cursor = db.session.get(SessionMetricCursor, session.id)
    if cursor is None:
        cursor = SessionMetricCursor(session_id=session.id, offset=0, last_n=0)
        db.session.add(cursor)
    try:
        # The new cursor stays unflushed while the files are read as the owner: a flush
        # (the lazy load of session.user) would hold the write lock meanwhile (issue #13).
        with db.session.no_autoflush:
            samples = [s for s in _read_new(session, cursor, files)
                       if s["n"] > (cursor.last_n or 0)]
        cursor.error = None
    except (AdapterError, ValueError) as exc:
        cursor.error, samples = str(exc)[:500], []
    cursor.updated_at = now or utcnow()
    if samples:
        _store(session.id, samples)
        last = samples[-1]
        cursor.last_n = last["n"]
        cursor.last_at = bucket_start(float(last["t"]), 1)
        cursor.source = str(last.get("src") or "")[:16] or None
        cursor.ncpu = last["ncpu"] if isinstance(last.get("ncpu"), int) else None
        limit = last.get("mem_limit")
        cursor.mem_limit = limit if isinstance(limit, int) else None
        note = last.get("gpu_note")
        cursor.gpu_note = note[:255] if isinstance(note, str) and not last.get("gpu") else None
        _prune(session.id, cursor.last_at)
        _ssh_activity(session, samples, now or utcnow())
    return len(samples)


def ssh_seen_at(samples: list[dict], now: datetime) -> datetime | None:
    """When the sampler last counted a logged-in SSH connection ("ssh" > 0) among these
    samples; a node clock ahead of the portal's is cut at `now`."""
    times = [_num(s.get("t")) for s in samples
             if isinstance(s.get("ssh"), int) and not isinstance(s.get("ssh"), bool)
             and s["ssh"] > 0]
    times = [t for t in times if t is not None]
    if not times:
        return None
    return min(datetime.fromtimestamp(max(times), UTC).replace(tzinfo=None), now)


def _ssh_activity(session: Session, samples: list[dict], now: datetime) -> None:
    """SSH use counts as activity for idle reclaim, like the proxy's and the terminal's."""
    from portal.services import idle

    seen = ssh_seen_at(samples, now)
    if seen is not None:
        idle.note_activity(session.id, "ssh", seen)


def _prune(session_id: int, last_at: datetime) -> None:
    for resolution, keep in KEEP.items():
        db.session.execute(delete(SessionMetric).where(
            SessionMetric.session_id == session_id, SessionMetric.resolution == resolution,
            SessionMetric.at < last_at - keep))


def monitored_sessions(now: datetime) -> list[Session]:
    """Running sessions, and those that ended moments ago (their last samples)."""
    live = select(Session).where(Session.state.in_(LIVE_STATES), Session.directory != "")
    recent = select(Session).where(Session.state.in_(("ended", "failed")),
                                   Session.ended_at >= now - ENDED_GRACE,
                                   Session.directory != "")
    return list(db.session.scalars(live)) + list(db.session.scalars(recent))


def worker_step(files=None, now: datetime | None = None) -> dict:
    """One ingestion pass over the monitored sessions; commits per session."""
    from adapters import factory

    files = files or factory.make_user_files()
    now = now or utcnow()
    total = 0
    for session in monitored_sessions(now):
        try:
            total += ingest(session, files, now)
            db.session.commit()
        except Exception:  # one session's trouble stops no other's
            db.session.rollback()
            log.exception("monitoring: ingesting session %s failed", session.id)
    return {"metrics_ingested": total}


# ---- reading (API, pages) ----

def series(session: Session, range_: str = "1h") -> dict:
    """The session's series for a chart. Raises ServiceError("bad_range")."""
    if range_ not in RANGES:
        raise ServiceError(_l("range must be 1h or lifetime."), "bad_range")
    cursor = db.session.get(SessionMetricCursor, session.id)
    rows: list[SessionMetric] = []
    resolution = 10
    if cursor is not None and cursor.last_at is not None:
        if range_ == "1h":
            rows = _rows(session.id, 10, cursor.last_at - KEEP[10])
        else:
            first = db.session.scalar(select(SessionMetric.at).filter_by(
                session_id=session.id, resolution=300).order_by(SessionMetric.at).limit(1))
            long = first is not None and cursor.last_at - first > KEEP[60]
            resolution = 300 if long else 60
            rows = _rows(session.id, resolution, None)
    note = cursor.gpu_note if cursor else None
    has_gpu = any(r.gpu_util is not None or r.gpu_mem is not None for r in rows)
    return {
        "session_id": session.id, "state": session.state,
        "live": session.state in LIVE_STATES, "range": range_, "resolution_s": resolution,
        "source": cursor.source if cursor else None,
        "cpus": session.cpus, "ncpu": cursor.ncpu if cursor else None,
        "mem_limit": (cursor.mem_limit if cursor and cursor.mem_limit
                      else session.mem_gb * 1024 ** 3),
        "updated_at": _iso(cursor.updated_at) if cursor else None,
        "gpu": {"available": has_gpu,
                "note": None if has_gpu else str(GPU_NOTES.get(note or NO_GPU_TELEMETRY, note))},
        "t": [_iso(r.at) for r in rows],
        **{name: [_round(getattr(r, name)) for r in rows] for name in SERIES},
    }


def _rows(session_id: int, resolution: int, since: datetime | None) -> list[SessionMetric]:
    query = select(SessionMetric).filter_by(session_id=session_id, resolution=resolution)
    if since is not None:
        query = query.where(SessionMetric.at >= since)
    return list(db.session.scalars(query.order_by(SessionMetric.at)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
