"""GPU usage per hour (F5): what /api/v1/gpu-usage answers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal.api.schemas import Out
from portal.api.schemas.jobs import Number, Text


class PeakHours(Out):
    weekdays: list[int] = Field(description="0 = Monday")
    start_hour: int
    end_hour: int


class UsageHour(Out):
    start: str = Field(json_schema_extra={"format": "date-time"})
    peak: bool
    gpus: dict[str, Number] = Field(description="GPUs allocated, per GPU model")
    total: Number


class HourOfDay(Out):
    hour: int
    average: Number
    max: Number
    peak_days: int
    days: int


class UsageSummary(Out):
    gpu_hours: Number
    peak_average: Number
    off_peak_average: Number
    busiest_hour: Text
    busiest_gpus: Number


class GpuUsage(Out):
    """GPUs allocated in an hour = GPU-seconds allocated in it / 3600."""

    days: int
    timezone: str = Field(description="IANA name the hours are in")
    scope: Literal["projects", "cluster"]
    accounts: list[str] | None = Field(description="null: the whole cluster (admins)")
    models: list[str]
    peak_hours: PeakHours
    hours: list[UsageHour]
    by_hour_of_day: list[HourOfDay]
    summary: UsageSummary


OUTPUTS = [GpuUsage]
