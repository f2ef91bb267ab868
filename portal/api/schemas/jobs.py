"""Jobs, templates and schedules (F6–F8): what /api/v1/jobs, /templates and /schedules
answer and accept."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from portal.api.schemas import In, Out

Text = str | None
Number = int | float  # not float alone: that would answer 3 as 3.0
ISO = Annotated[str | None, Field(description="UTC, ISO 8601 with Z")]
TIME_LIMIT_MIN = Field(description="sbatch --time in minutes; in a job, what Slurm got; in a "
                                    "template, null means the project's MaxWall (else the "
                                    "partition default) when it runs")
TIME_LIMIT = Field(None, description='sbatch --time: minutes ("30" or 30), "H:MM:SS", '
                                     '"D-HH:MM:SS"; default the project\'s MaxWall, else the '
                                     "partition default; at most the MaxWall (error "
                                     "time_over_limit; unreadable: invalid_time_limit)")
REASON = Field(None, description="Why it is needed, for the manager who approves it "
                                 "(projects with an approval threshold)")


class Spec(Out):
    """The job specification a job or template stores (portal.services.jobspec)."""

    gpu_model: Text
    gpu_count: int
    cpus: int
    mem_gb: int
    shm_gb: int
    image_type: Literal["public", "custom"]
    image: str
    framework: str
    command: str = Field(description="Run exactly as typed inside the image")
    time_limit_min: int | None = TIME_LIMIT_MIN
    node_count: int = Field(1, description="sbatch --nodes (issue #15); gpu_count, cpus and "
                                           "mem_gb are per node")


class Job(Spec):
    id: int
    name: str
    state: str
    reason: Text
    reason_text: Text
    slurm_job_id: Text
    account: str
    partition: Text
    nodes: Text
    owner: str
    created_at: ISO
    submitted_at: ISO
    started_at: ISO
    ended_at: ISO
    exit_code: int | None
    exit_signal: int | None
    run_at: ISO
    schedule_id: int | None
    template_id: int | None
    error: Text
    ends_at: ISO = Field(description="While running: when its time limit ends it")


class Event(Out):
    """One event of a job or a schedule's history, with `text` in words."""

    at: ISO
    kind: str
    details: dict[str, Any] | None
    text: str


class Efficiency(Out):
    """What an ended job or session used of what it held (issue #17 item 6, like seff):
    CPU = CPU time / (elapsed x CPUs), memory = peak resident memory / memory held,
    GPU = mean utilisation of the portal's monitoring samples (null without samples)."""

    cpu_percent: Number | None
    memory_percent: Number | None
    gpu_percent: Number | None
    elapsed_s: int
    cpu_time_s: Number
    cpus: int
    max_memory_mb: Number | None
    memory_mb: int
    gpus: int
    gpu_samples: int
    slurm_state: str


class JobDetail(Job):
    script: Text
    events: list[Event]
    efficiency: Efficiency | None = Field(
        description="Once it has ended and Slurm's accounting has it (null before)")


class Template(Spec):
    id: int
    name: str
    next_job_name: str
    created_at: ISO
    updated_at: ISO


class Schedule(Out):
    id: int
    name: str
    description: Text
    cron: str
    timezone: str
    start_at: ISO
    end_at: ISO
    mode: Literal["single", "multi"]
    missed_policy: Literal["skip", "run_late"]
    status: str
    template_id: int | None
    upcoming_job: Job | None
    history: list[Event] = Field(None, description="With one schedule (not in the list)")


class SchedulePreview(Out):
    cron: str
    timezone: str
    description: str
    next_runs: list[str] = Field(description="Local times, ISO 8601")
    next_runs_utc: list[str]


class SpecInput(In):
    gpu_model: str | None = None
    gpu_count: int | None = None
    cpus: int | None = None
    mem_gb: int | None = None
    shm_gb: int | None = None
    image_type: Literal["public", "custom"] | None = None
    image: str | None = None
    command: str | None = Field(None, description="Run exactly as typed inside the image")
    time_limit: str | int | None = TIME_LIMIT
    node_count: int | None = Field(None, description="Nodes (sbatch --nodes), default 1, at "
                                   "most the nodes of the job's partition "
                                   "(invalid_node_count); gpu_count, cpus and mem_gb are per "
                                   "node, the price is per node times the nodes")


class JobInput(SpecInput):
    name: str | None = None
    template_id: int | None = Field(None, description="Run from this template; the other "
                                                       "fields override its values")
    reason: str | None = REASON


class TemplateInput(SpecInput):
    name: str
    image: str
    command: str = Field(description="Run exactly as typed inside the image")


class ScheduleInput(In):
    name: str
    description: str | None = None
    cron: str
    timezone: str
    start: str | None = Field(None, description="local time, ISO 8601")
    end: str | None = Field(None, description="local time, ISO 8601")
    template_id: int
    mode: Literal["single", "multi"] | None = None
    missed_policy: Literal["skip", "run_late"] | None = None


class ExtendInput(In):
    hours: int = Field(ge=1, le=24 * 30, description="Whole hours to add (invalid_hours)")


OUTPUTS = [Job, JobDetail, Template, Schedule, SchedulePreview]
INPUTS = [JobInput, TemplateInput, ScheduleInput, ExtendInput]
