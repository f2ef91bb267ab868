"""Batch jobs (F6): create, submit, list, show, delete. Pages, API, CLI and worker share these.

A job is recorded first (with a uuid tag), then its directory, command file and script
are written in the owner's workspace as the owner, then it is submitted as the owner into
the current project's Slurm account, tagged with `--comment=portal-job-<uuid>` so that
after any crash the worker can find it again instead of submitting twice (decision 2).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.factory import sbatch_args
from adapters.scheduler import JobSpec
from portal import db
from portal.models import Job, JobEvent, Membership, ProjectRole
from portal.services import (
    Forbidden,
    NotFound,
    ServiceError,
    approvals,
    audit,
    cluster,
    idempotency,
    tracked,
)
from portal.services import jobscript as scripts
from portal.services.core.backend import Backend, get_backend, job_root
from portal.services.core.membership import refuse_archived, require_membership
from portal.services.core.states import JOB_ACTIVE as ACTIVE  # noqa: F401 - jobs.ACTIVE
from portal.services.core.states import JOB_TAG_PREFIX as TAG_PREFIX  # noqa: F401
from portal.services.core.states import JOB_TERMINAL as TERMINAL  # noqa: F401
from portal.services.core.states import job_tag as tag_of
from portal.services.custom_image_catalog import verify_for_start
from portal.services.images import get_image
from portal.services.jobspec import (
    JobRequest,
    default_time_limit,
    parse_request,
    validate_name,
)
from portal.services.requestcheck import capped_minutes, project_limits
from portal.services.users import current_membership

log = logging.getLogger(__name__)

STATE_OF = {"queued": "pending", "queued_held": "held"}


def portal_state(slurm_state: str) -> str:
    """The portal's state name for a JobState value ("queued" shows as "pending")."""
    return STATE_OF.get(slurm_state, slurm_state)


def create_job(user, data: Mapping, *, template=None, backend: Backend | None = None) -> Job:
    """Validate, record and submit a job from a form, JSON body or template.

    Returns the job: "pending", or "submitting" with `error` set when Slurm did not answer
    (then it is never submitted again automatically: see portal/services/submission.py;
    `submission_uncertain(job)` is true and the API answers 503). Raises ServiceError for
    bad input, ServiceError("slurm_rejected") with Slurm's words when Slurm refuses, and a
    503 "slurm_unavailable" naming the outage when Slurm could not be reached at all;
    nothing is kept in those cases.
    """
    membership = require_membership(user)
    from portal.services.activation import require_activated

    require_activated(user)
    refuse_archived(membership.project)  # issue #16: nothing new runs in an archived project
    if template is not None and template.project_id != membership.project_id:
        raise Forbidden(_l("That template belongs to another project."), "other_project")
    name = validate_name(data.get("name"))
    request = parse_request(user, data, cluster.cached_view(),
                            limits=project_limits(membership.project))
    job = new_job(user, membership, name, request, template_id=getattr(template, "id", None))
    db.session.add(job)
    db.session.flush()
    idempotency.attach("job", job.id)  # an API retry with the same key finds this job
    db.session.commit()  # the tag is on record before anything else happens
    backend = backend or get_backend()
    launch(job, backend)
    approvals.record("job", job, backend, reason=data.get("reason"))
    audit.record("job.create", f"job:{job.id}", actor=user, name=job.name,
                 slurm_job_id=job.slurm_job_id)
    return job


submission_uncertain = tracked.uncertain  # sbatch got no answer, not resolved yet


def uncertain_message(job: Job) -> str:
    """What the create answers when sbatch got no answer (page message, API 503)."""
    return str(_l("Slurm's controller did not confirm job %(id)s (%(error)s). It is recorded "
                  "and will not be submitted twice: the portal looks it up by its tag and "
                  "shows here within a few minutes whether Slurm accepted it. Do not submit "
                  "it again before then.", id=job.id, error=job.error))


def new_job(user, membership, name: str, request: JobRequest, **extra) -> Job:
    """An unsaved Job row for `request` in the membership's project."""
    return Job(
        uuid=uuid.uuid4().hex,
        user_id=user.id,
        project_id=membership.project_id,
        name=name,
        account=membership.project.account,
        directory="",
        state="submitting",
        **request.as_dict(),
        **extra,
    )


def _partition(job: Job) -> str | None:
    """GPU jobs: a partition whose nodes have that model (the default one first).

    CPU-only jobs: a partition called "cpu" if the cluster has one. None: Slurm's default.
    """
    view = cluster.cached_view()
    parts = sorted(view.get("partitions", []), key=lambda p: not p.get("default"))
    if job.gpu_count:
        with_model = {
            n["name"] for n in view.get("nodes", []) if job.gpu_model in (n.get("gpus") or {})
        }
        for part in parts:
            if with_model & set(part.get("nodes") or []):
                return part["name"]
        return None
    names = [p["name"] for p in parts]
    return current_app.config.get("CPU_PARTITION", "cpu") if "cpu" in names else None


@dataclass
class Files:
    """What `plan` decided to write as the job's owner (written by `write_files`)."""

    user: str
    root: str
    directory: str
    writes: list[tuple[str, bytes]]


def plan(job: Job, *, begin=None, dependency=None) -> tuple[JobSpec, Files]:
    """The job's spec and files, from the database only (no command runs here): sets the
    row's directory, sbatch options and script. Raises ServiceError (unknown image or
    account, unusable path)."""
    unix_user = job.user.unix_user
    home, root = job_root(unix_user)
    job.directory = f"{root}/{job.id}-{job.uuid[:12]}"
    if "%" in job.directory or "\\" in job.directory:  # sbatch would expand them in --output
        raise ServiceError(_l("The job directory path cannot be used."), "bad_directory")
    image = get_image(job.user, job.image, job.image_type)
    if image.type == "custom":  # issue #12: the committed file, unchanged
        verify_for_start(job.project_id, image.key, image.path)
    data = scripts.ScriptInput(
        job_id=job.id, tag=tag_of(job), name=job.name, user=unix_user, home=home,
        workspace=current_app.config.get("WORKSPACE", "{home}").format(home=home),
        directory=job.directory, image_path=image.path, image_key=image.key,
        shell=image.shell, gpus=job.gpu_count, shm_gb=job.shm_gb,
        runtime=current_app.config.get("CONTAINER_RUNTIME", "charliecloud"),
        nodes=job.node_count or 1,
    )
    multi = (job.node_count or 1) > 1  # one task per node; cpus, mem and gres per node
    spec = JobSpec(
        script="#!/bin/bash\n", job_name=job.name, account=job.account,
        partition=job.partition, cpus=job.cpus, mem=f"{job.mem_gb}G",
        nodes=job.node_count if multi else None, ntasks_per_node=1 if multi else None,
        gres=f"gpu:{job.gpu_model}:{job.gpu_count}" if job.gpu_count else None,
        begin=begin, dependency=dependency, workdir=job.directory, output=data.log_file,
        time=_time_limit(job),
    )
    job.sbatch_args = sbatch_args(spec)
    job.script = scripts.render(data, job.sbatch_args)
    files = Files(unix_user, root, job.directory, [
        (data.command_file, job.command.encode("utf-8")),
        (data.script_file, job.script.encode("utf-8")),
    ])
    return replace(spec, script=job.script), files


def write_files(backend: Backend, files: Files) -> None:
    """Make the job directory and write its files as the owner (commands: no transaction
    may be open). Raises AdapterError or ValueError."""
    backend.files.make_dirs(files.user, files.root, files.directory,
                            scripts.mount_dir(files.directory))  # an image file's mount
    for path, content in files.writes:
        backend.files.write(files.user, path, content)


def prepare(job: Job, backend: Backend, *, begin=None, dependency=None) -> JobSpec:
    """`plan` and `write_files` in one go (for callers that hold no transaction)."""
    spec, files = plan(job, begin=begin, dependency=dependency)
    write_files(backend, files)
    return spec


def _time_limit(job: Job) -> int | None:
    """--time: the job's own limit (within the project's MaxWall), else the MaxWall, else
    the partition's default; recorded on the job so its page and order say what Slurm got.
    Without --time a job in a project with a shorter MaxWall than the partition default
    would pend forever (QOSMaxWallDurationPerJobLimit)."""
    limits = project_limits(job.project)
    minutes = capped_minutes(job.time_limit_min, limits)
    if minutes is None:
        minutes = default_time_limit(limits, cluster.cached_view(), job.partition)
    job.time_limit_min = minutes
    return minutes


def launch(job: Job, backend: Backend, *, begin=None, dependency=None, keep_rejected=False):
    """Write the files and submit `job` exactly once: the tracked-job lifecycle
    (portal/services/tracked.py) with a job's plan, events and words.

    On refusal the row is deleted (or kept as "failed" with `keep_rejected`) and
    ServiceError raised: "slurm_rejected" with Slurm's words, or a 503 naming the outage
    when Slurm could not be reached at all. When Slurm did not answer, the job stays
    "submitting" with `error` and `submit_ended_at` set, for the worker to adopt by its tag
    or, once Slurm can no longer process the request, to mark as never submitted.
    """
    if job.partition is None:
        job.partition = _partition(job)
    return tracked.launch(job, backend, _JobLaunch(begin, dependency),
                          keep_rejected=keep_rejected)


class _JobLaunch(tracked.Launch):
    """A batch job through tracked.launch: held for approval over the GPU threshold,
    events on its history, kept as "failed" when a schedule's run is refused."""

    noun = "job"

    def __init__(self, begin, dependency):
        self.begin, self.dependency = begin, dependency

    def tag(self, job: Job) -> str:
        return tag_of(job)

    def plan(self, job: Job):
        spec, files = plan(job, begin=self.begin, dependency=self.dependency)
        # over threshold: held (the GPUs of all its nodes count)
        spec = approvals.gate(spec, job.project, job.gpu_count * (job.node_count or 1))
        return spec, lambda backend: write_files(backend, files)

    def uncertain(self, job: Job) -> None:
        event(job, "submit_uncertain", message=job.error)

    def deleted_meanwhile(self, job: Job) -> bool:
        return job.state == "cancelled"

    def submitted(self, job: Job) -> None:
        event(job, "submitted", slurm_job_id=job.slurm_job_id,
              begin=self.begin.isoformat() if self.begin else None)

    def keep_rejected(self, job: Job, message: str) -> None:
        job.state, job.error, job.upcoming = "failed", message, False
        event(job, "rejected", message=message)

    def cancel(self, job: Job, backend: Backend) -> None:
        cancel(job, backend)

    def retry_later(self):
        return _l("Nothing was submitted; run the job again when Slurm is back.")

    def refused(self, message: str):
        return _l("Slurm refused the job: %(message)s", message=message)

    def unprepared(self, message: str) -> ServiceError:
        return ServiceError(_l("The job could not be prepared: %(message)s", message=message),
                            "slurm_rejected")


def event(job: Job, kind: str, at=None, **details) -> JobEvent:
    """Append an event to the job's history (committed by the caller); `at` defaults to now,
    Slurm's own time is given where known (a start, an end)."""
    record = JobEvent(job=job, kind=kind, at=at or db.utcnow(),
                      details={k: v for k, v in details.items() if v is not None})
    db.session.add(record)
    return record


def visible_jobs(user, membership: Membership | None = None, limit: int = 500) -> list[Job]:
    """The job list: the user's own jobs in the project; managers also see members' jobs."""
    membership = membership or current_membership(user)
    if membership is None:
        return []
    stmt = select(Job).where(Job.project_id == membership.project_id, Job.hidden.is_(False))
    if membership.role != ProjectRole.MANAGER:
        stmt = stmt.where(Job.user_id == user.id)
    return list(db.session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def get_job(user, job_id: int) -> Job:
    """The user's own job. Raises NotFound for anyone else's (no hint that it exists)."""
    job = db.session.get(Job, job_id)
    if job is None or job.user_id != user.id:
        raise NotFound(_l("No such job."))
    return job


def cancel(job: Job, backend: Backend) -> None:
    """scancel as the owner; a job Slurm no longer knows is fine. Raises ServiceError."""
    tracked.scancel(job, backend, job.user.unix_user)
    event(job, "cancel_requested")


def find_submitted(job: Job, backend: Backend) -> dict | None:
    """The Slurm job carrying `job`'s tag, live or finished (tracked.find_by_tag)."""
    return tracked.find_by_tag(job, tag_of(job), backend)
