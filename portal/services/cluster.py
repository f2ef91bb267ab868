"""Cluster state for pages and API, read from the worker's cache; the worker refreshes it."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime

from flask import current_app, has_app_context
from sqlalchemy import delete, select

from adapters.errors import AdapterError
from portal import db
from portal.models import ClusterSnapshot

KEEP_SNAPSHOTS = 20


def _plain(value):
    """ClusterInfo/JobInfo dataclasses -> JSON-safe structures."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def refresh(scheduler) -> ClusterSnapshot:
    """One squeue-class call set per cycle for everybody (decision 3). Never raises for Slurm."""
    try:
        info = scheduler.cluster_info()
        jobs = scheduler.info_all()
        snapshot = ClusterSnapshot(data={"cluster": _plain(info), "jobs": _plain(jobs)})
    except AdapterError as exc:
        snapshot = ClusterSnapshot(data=None, error=exc.message)
    db.session.add(snapshot)
    db.session.flush()
    db.session.execute(
        delete(ClusterSnapshot).where(ClusterSnapshot.id <= snapshot.id - KEEP_SNAPSHOTS)
    )
    db.session.commit()
    return snapshot


def latest() -> ClusterSnapshot | None:
    return db.session.scalar(select(ClusterSnapshot).order_by(ClusterSnapshot.id.desc()).limit(1))


def last_good() -> ClusterSnapshot | None:
    stmt = (
        select(ClusterSnapshot)
        .where(ClusterSnapshot.data.is_not(None))
        .order_by(ClusterSnapshot.id.desc())
        .limit(1)
    )
    return db.session.scalar(stmt)


def cached_view() -> dict:
    """What pages and `GET /api/v1/cluster` show: last good data, its age, and any fresh error."""
    newest, good = latest(), last_good()
    max_age = current_app.config["CLUSTER_CACHE_MAX_AGE"] if has_app_context() else 120.0
    view: dict = {
        "available": good is not None,
        "taken_at": good.taken_at.isoformat() + "Z" if good else None,
        "age_seconds": round((db.utcnow() - good.taken_at).total_seconds(), 1) if good else None,
        "error": newest.error if newest is not None and newest.data is None else None,
        "partitions": [],
        "nodes": [],
        "gpu_models": [],
        "slurm_version": None,
    }
    view["stale"] = view["age_seconds"] is None or view["age_seconds"] > max_age
    if good is None:
        return view
    cluster = good.data["cluster"]
    view["partitions"] = cluster.get("partitions", [])
    view["nodes"] = cluster.get("nodes", [])
    view["slurm_version"] = cluster.get("version")
    view["gpu_models"] = [
        {"model": model, "total": counts[0], "free": counts[1]}
        for model, counts in sorted(cluster.get("gpu_models", {}).items())
    ]
    return view
