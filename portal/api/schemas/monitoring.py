"""Session monitoring (F3): what /api/v1/sessions/{session_id}/metrics answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from portal.api.schemas import Out
from portal.api.schemas.jobs import Number, Text

Series = list[Number | None]  # one value per bucket of `t`; null: no sample in it
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class MetricsGpu(Out):
    available: bool
    note: Text = Field(description='why there are no GPU series, e.g. "no GPU telemetry on '
                                   'this node"')


class SessionMetrics(Out):
    session_id: int
    state: str
    live: bool = Field(description="still running: poll again")
    range: Literal["1h", "lifetime"]
    resolution_s: int
    source: Text = Field(description="cgroup2, cgroup1 or proc (the job's processes)")
    cpus: int = Field(description="cores allocated")
    ncpu: int | None
    mem_limit: int = Field(description="bytes allocated")
    updated_at: DateTime | None
    gpu: MetricsGpu
    t: list[DateTime] = Field(description="bucket starts (UTC)")
    cpu: Series = Field(description="cores in use")
    mem: Series = Field(description="bytes resident")
    node_cpu: Series = Field(description="% of the node's CPU")
    disk_ws: Series = Field(description="bytes in the workspace")
    disk_scratch: Series = Field(description="bytes in container scratch")
    net_rx: Series = Field(description="bytes/s received (node interfaces)")
    net_tx: Series = Field(description="bytes/s sent (node interfaces)")
    gpu_util: Series = Field(description="% mean over the session's GPUs")
    gpu_mem: Series = Field(description="MiB used")
    gpu_mem_total: Series = Field(description="MiB")


OUTPUTS = [SessionMetrics]
