"""The scheduler interface: typed inputs, typed results, one abstract adapter.

Shaped like Open OnDemand's ood_core adapters and JupyterHub's Spawner: a `JobSpec`
(the `Script` of ood_core) is mapped field by field to scheduler flags, and job states
are normalised to a small enum that includes UNKNOWN ("the controller did not answer"),
which callers must never read as "the job is gone".
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

log = logging.getLogger(__name__)


class JobState(StrEnum):
    """A job's state, normalised across Slurm versions; `reason` keeps Slurm's detail."""

    QUEUED = "queued"
    QUEUED_HELD = "queued_held"
    RUNNING = "running"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    NODE_FAIL = "node_fail"
    PREEMPTED = "preempted"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """The job will not run (again) under this id."""
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """The job is waiting, holding resources or running."""
        return self in _ACTIVE


_TERMINAL = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
    }
)
_ACTIVE = frozenset(
    {
        JobState.QUEUED,
        JobState.QUEUED_HELD,
        JobState.RUNNING,
        JobState.COMPLETING,
        JobState.SUSPENDED,
    }
)

# Field validation: values become single sbatch flags (`--name=value`), so they must be
# one line, and the structured ones must look like what Slurm accepts.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME_LIST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(,[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")
_GRES_ITEM = r"[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)?(:\d+[KMG]?)?"
_GRES = re.compile(rf"^{_GRES_ITEM}(,{_GRES_ITEM})*$")
_MEM = re.compile(r"^[1-9]\d*[KMGT]?$", re.IGNORECASE)
_TIME = re.compile(
    r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}"
    r"|UNLIMITED|INFINITE)$"
)
_BEGIN = re.compile(r"^[A-Za-z0-9:+\-./]+$")
_DEP_JOB = r"\d+(_\d+)?(\+\d+)?"
_DEP_ITEM = (
    rf"((after|afterany|afterburstbuffer|aftercorr|afternotok|afterok|expand)"
    rf":{_DEP_JOB}(:{_DEP_JOB})*|singleton)"
)
_DEPENDENCY = re.compile(rf"^{_DEP_ITEM}([,?]{_DEP_ITEM})*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class JobSpec:
    """What to submit. Only `script` is required; None means "Slurm's default".

    `script` is the batch script text (given to sbatch on stdin, must start with "#!");
    `gres` like "gpu:a100:2"; `cpus` is --cpus-per-task; `mem` is "4G" or an int in MB;
    `time` is minutes or a Slurm time string; `begin` a datetime or a Slurm time
    ("now+60"); `dependency` like "afterany:123"; `comment` carries the portal's tag;
    `extra_env` adds variables to the job's environment (names and values checked).
    Construction raises ValueError naming the first field that Slurm would misread.
    """

    script: str
    job_name: str | None = None
    account: str | None = None
    partition: str | None = None
    qos: str | None = None
    gres: str | None = None
    cpus: int | None = None
    mem: str | int | None = None
    time: int | str | None = None
    # -N and --ntasks-per-node: a multi-node job (issue #15); cpus, mem and gres per node.
    nodes: int | None = None
    ntasks_per_node: int | None = None
    begin: datetime | str | None = None
    hold: bool = False
    dependency: str | None = None
    comment: str | None = None
    workdir: str | None = None
    output: str | None = None
    error: str | None = None
    extra_env: Mapping[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.script, str) or not self.script.startswith("#!"):
            raise ValueError("script must be text starting with '#!' (an interpreter line)")
        for name in ("job_name", "comment", "workdir", "output", "error"):
            _check_text(name, getattr(self, name))
        for name in ("account", "partition", "qos"):
            _check_pattern(name, getattr(self, name), _NAME_LIST)
        _check_pattern("gres", self.gres, _GRES)
        _check_pattern("dependency", self.dependency, _DEPENDENCY)
        _check_int_or_pattern("cpus", self.cpus, None)
        _check_int_or_pattern("nodes", self.nodes, None)
        _check_int_or_pattern("ntasks_per_node", self.ntasks_per_node, None)
        _check_int_or_pattern("mem", self.mem, _MEM)
        _check_int_or_pattern("time", self.time, _TIME)
        if not isinstance(self.begin, datetime):
            _check_pattern("begin", self.begin, _BEGIN)
        if not isinstance(self.hold, bool):
            raise ValueError("hold must be True or False")
        if self.workdir is not None and not self.workdir.startswith("/"):
            raise ValueError("workdir must be an absolute path")
        _check_env(self.extra_env)


def _check_text(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if _CONTROL.search(value):
        raise ValueError(f"{name} must be one line without control characters")


def _check_pattern(name: str, value: object, pattern: re.Pattern) -> None:
    _check_text(name, value)
    if value is not None and not pattern.fullmatch(value):
        raise ValueError(f"{name} has an invalid value: {value!r}")


def _check_int_or_pattern(name: str, value: object, pattern: re.Pattern | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be an integer or a string")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
        return
    if pattern is None:
        raise ValueError(f"{name} must be an integer")
    _check_pattern(name, value, pattern)


def _check_env(env: Mapping[str, str] | None) -> None:
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ValueError(f"extra_env has an invalid variable name: {key!r}")
        if not isinstance(value, str) or _CONTROL.search(value) or "," in value:
            # sbatch --export splits on commas; there is no quoting to rely on.
            raise ValueError(f"extra_env[{key}] must be one line without commas")


@dataclass
class JobInfo:
    """One job as Slurm reports it. Times are timezone-aware (the cluster's local zone).

    `reason` is Slurm's raw reason ("BeginTime", "JobHeldUser", "QOSGrpGRES"…);
    `gres` is the GPUs/GRES in Slurm's own notation ("gpu:a100:2"); `tres` is the raw
    TRES string ("cpu=2,mem=600M,node=1,billing=12,gres/gpu=1,gres/gpu:a100=1"): sacct's
    AllocTRES, or squeue's tres-alloc — allocated to a running job, requested by a pending
    one (mem is the job's total, also with --mem-per-cpu); `time_limit` is in minutes (None =
    unlimited or unknown); `exit_code`/`exit_signal` are only known once it finished.
    """

    id: str
    name: str
    user: str
    state: JobState
    slurm_state: str
    account: str | None = None
    partition: str | None = None
    qos: str | None = None
    reason: str | None = None
    nodes: list[str] = field(default_factory=list)
    gres: str | None = None
    tres: str | None = None
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    time_limit: int | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    comment: str | None = None
    workdir: str | None = None


@dataclass
class PartitionInfo:
    """A partition; `max_time` and `default_time` in minutes, None when unlimited/unset.

    `billing_weights` is Slurm's TRESBillingWeights text as shown ("" when the partition
    has none: Slurm then bills the allocated CPUs); prices are computed from it
    (portal.services.pricing), so what a form shows is what Slurm bills.
    """

    name: str
    default: bool
    state: str
    nodes: list[str] = field(default_factory=list)
    max_time: int | None = None
    default_time: int | None = None
    billing_weights: str = ""


@dataclass
class NodeInfo:
    """A node; `gpus` maps a GPU model ("a100") to (total, used) on this node."""

    name: str
    state: str
    partitions: list[str] = field(default_factory=list)
    cpus_total: int = 0
    cpus_alloc: int = 0
    mem_total_mb: int = 0
    mem_alloc_mb: int = 0
    gpus: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class ClusterInfo:
    """Partitions, nodes and GPU models; `gpu_models` maps model to (total, free)."""

    partitions: list[PartitionInfo]
    nodes: list[NodeInfo]
    gpu_models: dict[str, tuple[int, int]]
    version: str = ""


class Scheduler(ABC):
    """What the portal needs from a batch scheduler.

    Methods done *for* a user take `as_user` and run as that user (decision 1). Reading
    methods run as the portal's own identity (one call for everyone, decision 3). Every
    method may raise the errors of `adapters.errors`; `SlurmUnreachable` and
    `CommandTimeout` mean "unknown, try later".
    """

    @abstractmethod
    def submit(self, spec: JobSpec, *, as_user: str) -> str:
        """Submit as `as_user`; return the job id. Raises SlurmRejected with Slurm's words."""

    @abstractmethod
    def info(self, job_id: str, *, as_user: str | None = None) -> JobInfo:
        """One job, live or finished. Raises JobNotFound."""

    @abstractmethod
    def info_all(
        self,
        *,
        user: str | None = None,
        account: str | None = None,
        states: Iterable[JobState | str] | None = None,
        comment: str | None = None,
        job_ids: Iterable[str] | None = None,
    ) -> list[JobInfo]:
        """Jobs the controller knows, filtered; one scheduler query."""

    @abstractmethod
    def status(self, job_id: str) -> JobState:
        """The job's state; UNKNOWN when the controller cannot be asked. Raises JobNotFound."""

    @abstractmethod
    def hold(self, job_id: str, *, as_user: str) -> None:
        """Keep a pending job from starting (a user hold the owner may release)."""

    @abstractmethod
    def release(self, job_id: str, *, as_user: str) -> None:
        """Let a held job be scheduled again."""

    @abstractmethod
    def delete(self, job_id: str, *, as_user: str) -> None:
        """Cancel the job; cancelling a finished job is not an error."""

    # -- operator (admin) commands: approvals (portal/services/approvals.py) ----------------
    # Not abstract: a scheduler without them cannot hold work for approval.

    def operator_hold(self, job_id: str) -> None:
        """Operator hold (JobHeldAdmin): the job's owner cannot release it."""
        raise NotImplementedError

    def operator_release(self, job_id: str) -> None:
        """Release any hold, as the operator."""
        raise NotImplementedError

    def operator_move(self, job_id: str, *, account: str) -> None:
        """Move a pending job into another account, as the operator (no user limits)."""
        raise NotImplementedError

    def operator_cancel(self, job_id: str) -> None:
        """Cancel any job, as the operator; an ended or unknown job is not an error."""
        raise NotImplementedError

    def operator_set_time_limit(self, job_id: str, minutes: int) -> None:
        """Set a job's TimeLimit to `minutes`, as the operator: only an operator may raise
        it (issue #17, extend); the portal checks the caps before it asks."""
        raise NotImplementedError

    @abstractmethod
    def cluster_info(self) -> ClusterInfo:
        """Partitions, nodes, GPU models with totals and free counts."""

    @abstractmethod
    def history(
        self,
        job_ids: Iterable[str] | None = None,
        *,
        since: datetime | None = None,
        user: str | None = None,
    ) -> list[JobInfo]:
        """Jobs from the accounting database (finished ones included)."""

    @abstractmethod
    def find_by_comment(self, tag: str, *, user: str | None = None) -> JobInfo | None:
        """The job carrying `tag` as its comment, or None."""

    def submit_idempotent(self, spec: JobSpec, *, as_user: str, tag: str) -> str:
        """Submit tagged with `tag` (its --comment), ONCE; the caller records `tag` first.

        After a timeout or "Socket timed out" the job may exist, or come to exist later:
        a request queued in a frozen slurmctld is processed when it wakes, after a look-up
        by tag may already have said "not there" (measured: portal/services/submission.py).
        So this never looks up and submits again; it raises, and the caller leaves the tag
        to be adopted (or given up once Slurm can no longer process the request).
        """
        return self.submit(replace(spec, comment=tag), as_user=as_user)
