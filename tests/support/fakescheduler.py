"""One fake Slurm for every unit test: the real `Scheduler` interface, jobs kept in a dict.

It subclasses adapters.scheduler.base.Scheduler, so a method the portal needs cannot be
missing (the ABC refuses to build it) and `submit_idempotent` is the real one: the tag
becomes the job's --comment and sbatch runs ONCE, never a look-up-and-resubmit. Like
Slurm it can end a job in any state (NODE_FAIL and PREEMPTED included, both terminal),
can process a request whose answer is lost (`lose_answer`: the job exists, the caller
sees a timeout), and `find_by_comment` answers the lowest id carrying a tag, the one a
row adopts. `calls` records the commands ("sbatch", "squeue", "sacct",
"scancel:<user>") for tests that count them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from adapters.errors import JobNotFound
from adapters.scheduler.base import ClusterInfo, JobInfo, JobSpec, JobState, Scheduler

STARTED = {JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.NODE_FAIL,
           JobState.PREEMPTED}


class FakeScheduler(Scheduler):
    """Slurm in a dict: `jobs` by id, `specs` (what was submitted) and `as_users` (who
    submitted it) by id. `fail_submit`: raised before anything is created (a refusal);
    `lose_answer`: raised after the job was created (an sbatch whose answer was lost)."""

    def __init__(self, first_id: int = 1000):
        self.jobs: dict[str, JobInfo] = {}
        self.specs: dict[str, JobSpec] = {}
        self.as_users: dict[str, str] = {}
        self.ids = itertools.count(first_id)
        self.calls: list[str] = []
        self.cancelled: list[tuple[str, str]] = []  # (job id, as_user) of every scancel
        self.fail_submit: Exception | None = None
        self.lose_answer: Exception | None = None
        self.runner = None

    # -- the Scheduler interface ------------------------------------------------------------
    def submit(self, spec: JobSpec, *, as_user: str) -> str:
        self.calls.append("sbatch")
        if self.fail_submit is not None:
            raise self.fail_submit
        jid = str(next(self.ids))
        self.jobs[jid] = JobInfo(
            id=jid, name=spec.job_name, user=as_user, state=JobState.QUEUED,
            slurm_state="PENDING", account=spec.account, partition=spec.partition,
            reason="BeginTime" if spec.begin else "Priority", comment=spec.comment,
            submit_time=datetime.now(UTC),
        )
        self.specs[jid], self.as_users[jid] = spec, as_user
        if self.lose_answer is not None:
            raise self.lose_answer
        return jid

    def info(self, job_id, *, as_user=None) -> JobInfo:
        if job_id not in self.jobs:
            raise JobNotFound(f"job {job_id} not found")
        return self.jobs[job_id]

    def info_all(self, *, user=None, account=None, states=None, comment=None,
                 job_ids=None) -> list[JobInfo]:
        """squeue: every job (a fake queue forgets nothing), filtered by id, comment and
        state; `user` and `account` are not filtered (tests submit as made-up users)."""
        self.calls.append("squeue")
        ids = set(job_ids) if job_ids is not None else None
        wanted = {JobState(s) for s in states} if states is not None else None
        return [j for j in self.jobs.values()
                if (ids is None or j.id in ids) and (comment is None or j.comment == comment)
                and (wanted is None or j.state in wanted)]

    def status(self, job_id) -> JobState:
        return self.info(job_id).state

    def hold(self, job_id, *, as_user) -> None:
        job = self.info(job_id)
        job.state, job.slurm_state, job.reason = JobState.QUEUED_HELD, "PENDING", "JobHeldUser"

    def release(self, job_id, *, as_user) -> None:
        job = self.info(job_id)
        job.state, job.slurm_state, job.reason = JobState.QUEUED, "PENDING", "None"

    def delete(self, job_id, *, as_user) -> None:
        self.calls.append(f"scancel:{as_user}")
        self.cancelled.append((job_id, as_user))
        self._cancel(self.info(job_id))

    def operator_cancel(self, job_id) -> None:
        self.calls.append("scancel-operator")
        if job_id in self.jobs:
            self._cancel(self.jobs[job_id])

    def cluster_info(self) -> ClusterInfo:
        return ClusterInfo(partitions=[], nodes=[], gpu_models={})

    def history(self, job_ids=None, *, since=None, user=None) -> list[JobInfo]:
        self.calls.append("sacct")
        ids = set(job_ids) if job_ids is not None else None
        return [j for j in self.jobs.values() if ids is None or j.id in ids]

    def find_by_comment(self, tag, *, user=None) -> JobInfo | None:
        found = self.info_all(user=user, comment=tag)
        return min(found, key=lambda j: int(j.id)) if found else None

    # -- test helpers -----------------------------------------------------------------------
    def add(self, jid: str, *, user: str, state: JobState = JobState.RUNNING, node="vm",
            comment: str | None = None) -> JobInfo:
        """A job Slurm already has (submitted before the test, or from a login node)."""
        self.jobs[jid] = JobInfo(id=jid, name=f"job-{jid}", user=user, state=JobState.QUEUED,
                                 slurm_state="PENDING", comment=comment,
                                 submit_time=datetime.now(UTC))
        self.set_state(jid, state, node=node)
        return self.jobs[jid]

    def set_state(self, jid, state: JobState, *, node="vm", exit_code=None, reason=None):
        """What Slurm would report next: running on `node`, or ended (any terminal state,
        NODE_FAIL and PREEMPTED included) with `exit_code`."""
        job = self.jobs[jid]
        job.state, job.slurm_state = state, state.value.upper()
        if state in STARTED:
            job.start_time = job.start_time or datetime.now(UTC)
            job.nodes = [node]
        if state.is_terminal:
            job.end_time = datetime.now(UTC)
            job.exit_code, job.exit_signal = exit_code, 0 if exit_code is not None else None
        job.reason = reason

    def snapshot(self) -> list[dict]:
        """The worker's squeue snapshot of this queue (plain dicts)."""
        from portal.services import cluster

        return [cluster._plain(j) for j in self.jobs.values()]

    def pending(self, prefix=""):
        return [j for j in self.jobs.values()
                if j.state in (JobState.QUEUED, JobState.QUEUED_HELD)
                and (j.name or "").startswith(prefix)]

    def tagged(self, tag: str) -> list[JobInfo]:
        """Every Slurm job carrying `tag`: more than one means a row was submitted twice."""
        return [j for j in self.jobs.values() if j.comment == tag]

    def count(self, command: str) -> int:
        """How often `command` ran ("scancel" counts every user's scancel)."""
        return sum(1 for c in self.calls if c == command or c.startswith(command + ":"))

    def _cancel(self, job: JobInfo) -> None:
        if not job.state.is_terminal:
            job.state, job.slurm_state = JobState.CANCELLED, "CANCELLED"
            job.end_time = datetime.now(UTC)
