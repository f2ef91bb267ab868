"""Live project usage, from the worker's cached job list (never a per-request squeue).

The worker stores one snapshot per cycle: {"cluster": …, "jobs": [JobInfo as JSON]}.
A running job counts with the TRES Slurm allocated to it (gres/gpu, cpu, mem: squeue's
`tres-alloc`, cached as `tres` on every row), whoever submitted it — the portal or a shell
on a login node. Pending jobs hold nothing: they are counted as "pending" only (their
`tres` is what they ask for). Only a row without `tres` (a snapshot older than that field)
falls back to GPUs from its GRES and CPUs/memory from the portal's own record; a job the
portal does not know then counts GPUs only and the card marks CPU/memory "partial" (+).

Visibility (F2): managers and admins see every member's jobs and sessions; members see
their own, and — only when the admin allows it for the project — the others' sessions as
a list, without details or connections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from adapters.scheduler.values import gpus_by_model, parse_gres, parse_tres
from portal import db
from portal.models import Job, Project, ProjectRole, Session
from portal.services import cluster
from portal.services.slurm_reasons import describe

RUNNING = ("running", "completing")
ACTIVE = ("queued", "queued_held", "running", "completing", "suspended")
SESSION_ACTIVE = ("submitting", "pending", "starting", "running", "deleting")


@dataclass
class Usage:
    gpus: int = 0
    cpus: int = 0
    mem_mb: int = 0
    running: int = 0
    pending: int = 0
    partial: bool = False  # some running job's CPUs/memory are not known

    def as_dict(self) -> dict:
        return asdict(self)


def cached_jobs() -> tuple[list[dict], object]:
    """(jobs, taken_at) from the newest good snapshot; ([], None) when there is none."""
    snapshot = cluster.last_good()
    if snapshot is None:
        return [], None
    return list(snapshot.data.get("jobs") or []), snapshot.taken_at


def _mem_mb(text: str) -> int:
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
    unit = text[-1:].upper()
    return int(float(text[:-1] if unit in units else text) * units.get(unit, 1))


def job_resources(job: dict, spec: tuple[int, int] | None = None) -> tuple[int, int | None,
                                                                          int | None]:
    """(GPUs, CPUs, memory MB) a job holds; CPUs/memory None when unknown."""
    try:
        tres = parse_tres(job.get("tres"))
    except ValueError:
        tres = {}
    if tres:
        gpus = int(tres.get("gres/gpu", 0) or 0)
        return gpus, int(tres.get("cpu", 0) or 0), _mem_mb(tres.get("mem", "0") or "0")
    try:
        per_node = sum(gpus_by_model(parse_gres(job.get("gres"))).values())
    except ValueError:
        per_node = 0
    gpus = per_node * max(1, len(job.get("nodes") or []))
    if spec is None:
        return gpus, None, None
    return gpus, spec[0], spec[1] * 1024


def _portal_specs(job_ids: list[str]) -> dict[str, tuple[int, int]]:
    """slurm job id → (cpus, mem GB) of the portal's own jobs and sessions."""
    if not job_ids:
        return {}
    out = {}
    for model in (Job, Session):
        rows = db.session.execute(
            select(model.slurm_job_id, model.cpus, model.mem_gb)
            .where(model.slurm_job_id.in_(job_ids)))
        out.update({jid: (cpus, mem) for jid, cpus, mem in rows})
    return out


def usage_by_account(jobs: list[dict]) -> dict[str, Usage]:
    """Usage of every account in `jobs` (running jobs hold resources; pending counted)."""
    running = [j for j in jobs if j.get("state") in RUNNING]
    specs = _portal_specs([j["id"] for j in running if not j.get("tres")])
    out: dict[str, Usage] = {}
    for job in jobs:
        usage = out.setdefault(job.get("account") or "", Usage())
        if job.get("state") in ("queued", "queued_held"):
            usage.pending += 1
        if job.get("state") not in RUNNING:
            continue
        gpus, cpus, mem = job_resources(job, specs.get(job["id"]))
        usage.running += 1
        usage.gpus += gpus
        if cpus is None:
            usage.partial = True
        else:
            usage.cpus, usage.mem_mb = usage.cpus + cpus, usage.mem_mb + mem
    return out


def quota_rows(project: Project, usage: Usage) -> list[dict]:
    """Used / limit per resource for a card (limit None: no limit)."""
    mem_limit = None if project.mem_limit_gb is None else project.mem_limit_gb
    rows = [("gpus", usage.gpus, project.gpu_limit),
            ("cpus", usage.cpus, project.cpu_limit),
            ("mem_gb", round(usage.mem_mb / 1024, 1), mem_limit)]
    return [{"key": key, "used": used, "limit": limit,
             "percent": None if not limit else min(100, round(100 * used / limit)),
             "partial": usage.partial and key != "gpus"} for key, used, limit in rows]


def active_jobs(account: str, unix_user: str, jobs: list[dict] | None = None) -> list[dict]:
    """The user's pending or running jobs in `account`, per the cache."""
    jobs = cached_jobs()[0] if jobs is None else jobs
    return [j for j in jobs if j.get("account") == account and j.get("user") == unix_user
            and j.get("state") in ACTIVE]


def visible_jobs(viewer, project: Project, role, jobs: list[dict]) -> list[dict]:
    """The project's active jobs the viewer may see, with the pending reason in words."""
    sees_all = viewer.is_admin or role == ProjectRole.MANAGER
    out = []
    for job in jobs:
        if job.get("account") != project.account or job.get("state") not in ACTIVE:
            continue
        if not sees_all and job.get("user") != viewer.unix_user:
            continue
        gpus, cpus, mem = job_resources(job)
        out.append({**job, "gpus": gpus, "reason_text": describe(job.get("reason"))
                    if job.get("state") not in RUNNING else ""})
    return sorted(out, key=lambda j: (j.get("state") not in RUNNING, j["id"]))


def visible_sessions(viewer, project: Project, role) -> list[tuple[Session, bool]]:
    """(session, may_open) pairs: may_open only for the viewer's own sessions."""
    stmt = select(Session).where(Session.project_id == project.id,
                                 Session.state.in_(SESSION_ACTIVE),
                                 Session.hidden.is_(False)).order_by(Session.id.desc())
    sees_all = viewer.is_admin or role == ProjectRole.MANAGER or project.members_see_sessions
    out = []
    for session in db.session.scalars(stmt):
        own = session.user_id == viewer.id
        if own or sees_all:
            out.append((session, own))
    return out
