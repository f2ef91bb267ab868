"""The cached cluster view (partitions, nodes, GPU models): what /api/v1/cluster answers."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from portal.api.schemas import Out
from portal.api.schemas.jobs import ISO, Number, Text


class GpuModel(Out):
    model: str
    total: int
    free: int


class WorkerBeat(Out):
    """The worker that fills this view: `late` when its last beat is older than
    `late_after` seconds (issue #13)."""

    reported: bool
    late: bool
    beat_at: ISO
    age_seconds: Number | None
    interval: Number | None
    late_after: Number | None


class Cluster(Out):
    available: bool
    stale: bool
    taken_at: Text
    age_seconds: Number | None
    error: Text
    slurm_version: Text
    partitions: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    gpu_models: list[GpuModel]
    worker: WorkerBeat | None = Field(description="null: the worker never reported")


OUTPUTS = [Cluster]
