"""Interactive sessions (F3): create, batch create, list, show, delete. Pages, API, CLI share these.

A session is recorded first (with a uuid tag), then its directory, sshd files and script
are written in the owner's workspace as the owner, then it is submitted as the owner into
the project's Slurm account with `--comment=portal-session-<uuid>` (decision 2), so the
worker can adopt it after any crash. State comes from the worker's cache (decision 3);
`probe` looks at one starting session at most every PROBE_INTERVAL so that "Jupyter
answers" does not wait for the next worker cycle.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.errors import AdapterError
from adapters.factory import sbatch_args
from adapters.scheduler import JobSpec
from adapters.sshd import Sshd
from portal import db
from portal.models import Membership, ProjectRole, Session, Whitelist
from portal.services import (
    NotFound,
    ServiceError,
    approvals,
    audit,
    cluster,
    idempotency,
    outage,
    proxy,
    sessionwithdraw,
    tracked,
)
from portal.services import keys as keysvc
from portal.services import sessionscript as scripts
from portal.services import whitelists as wlsvc
from portal.services.core.backend import Backend, get_backend, job_root
from portal.services.core.membership import (  # noqa: F401 - is_manager, may_open: sessions.*
    is_manager,
    may_open,
    refuse_archived,
    require_membership,
)
from portal.services.core.states import AWAITING
from portal.services.core.states import SESSION_DELETABLE as DELETABLE
from portal.services.core.states import SESSION_OPEN as OPEN  # noqa: F401 - sessions.OPEN
from portal.services.core.states import SESSION_TAG_PREFIX as TAG_PREFIX  # noqa: F401
from portal.services.core.states import session_tag as tag_of
from portal.services.custom_image_catalog import verify_for_start
from portal.services.jobscript import mount_dir
from portal.services.passwords import hash_password
from portal.services.requestcheck import project_limits
from portal.services.sessionspec import SessionRequest, parse_request
from portal.services.users import current_membership

log = logging.getLogger(__name__)

PROBE_INTERVAL = timedelta(seconds=0.25)


def project_quota(membership: Membership) -> dict:
    """The project's limits a session must fit (issue 3's quota, per-user GPU cap and
    session time limit; see requestcheck.project_limits)."""
    return project_limits(membership.project)


def _max_minutes(view: Mapping) -> int | None:
    limits = [p.get("max_time") for p in view.get("partitions", []) if p.get("max_time")]
    return max(limits) if limits else None


def create_session(user, data: Mapping, *, backend: Backend | None = None) -> Session:
    """Validate, record and submit a session for `user` in their current project.

    Returns the session ("pending", or "submitting" with `error` when Slurm did not
    answer). Raises ServiceError for bad input, or "slurm_rejected" with Slurm's words.
    """
    membership = require_membership(user)
    from portal.services.activation import require_activated

    require_activated(user)
    refuse_archived(membership.project)  # issue #16: nothing new runs in an archived project
    view = cluster.cached_view()
    request = parse_request(user, data, view, quota=project_quota(membership),
                            max_minutes=_max_minutes(view))
    session = new_session(user, membership, request, created_by=user)
    db.session.add(session)
    db.session.flush()
    idempotency.attach("session", session.id)  # an API retry with the same key finds it
    db.session.commit()
    backend = backend or get_backend()
    launch(session, backend)
    approvals.record("session", session, backend, reason=data.get("reason"))
    audit.record("session.create", f"session:{session.id}", actor=user, name=session.name,
                 slurm_job_id=session.slurm_job_id, image=session.image,
                 writable=session.writable)
    return session


def new_session(owner, membership: Membership, request: SessionRequest, *, created_by) -> Session:
    """An unsaved Session row for `request` owned by `owner` in the membership's project."""
    fields = {k: getattr(request, k) for k in (
        "name", "gpu_model", "gpu_count", "cpus", "mem_gb", "shm_gb", "image_type", "image",
        "image_path", "framework", "shell", "allow_all", "begin_at", "end_at", "time_limit_min",
        "writable")}
    password = request.webterm_password
    return Session(
        uuid=uuid.uuid4().hex, user_id=owner.id, user=owner, project_id=membership.project_id,
        created_by_id=created_by.id, account=membership.project.account, state="submitting",
        services=list(request.services), ssh_key_ids=list(request.ssh_key_ids),
        webterm_password_hash=hash_password(password) if password else None,
        whitelists=[db.session.get(Whitelist, i) for i in request.whitelist_ids],
        **fields,
    )


def _partition(session: Session) -> str | None:
    """A partition with the session's GPU model (the default first); None: Slurm's default."""
    view = cluster.cached_view()
    parts = sorted(view.get("partitions", []), key=lambda p: not p.get("default"))
    if not session.gpu_count:
        return None
    nodes = {n["name"] for n in view.get("nodes", []) if session.gpu_model in (n.get("gpus") or {})}
    return next((p["name"] for p in parts if nodes & set(p.get("nodes") or [])), None)


def script_input(session: Session) -> scripts.SessionScriptInput:
    unix_user = session.user.unix_user
    home, _ = job_root(unix_user)
    workspace = current_app.config.get("WORKSPACE", "{home}").format(home=home)
    root = current_app.config.get("SESSION_DIR", "{home}/portal-sessions").format(
        home=home, user=unix_user)
    return scripts.SessionScriptInput(
        session_id=session.id, tag=tag_of(session), name=session.name, user=unix_user,
        home=home, workspace=workspace, directory=f"{root}/{session.id}-{session.uuid[:12]}",
        image_key=session.image, image_path=session.image_path,
        services=tuple(session.services), gpus=session.gpu_count, shm_gb=session.shm_gb,
        runtime=current_app.config.get("CONTAINER_RUNTIME", "charliecloud"),
        base_url=f"/s/{session.id}/",
        path=current_app.config.get("SESSION_PATH", scripts.DEFAULT_PATH),
        monitor_interval=int(current_app.config.get("MONITOR_INTERVAL", scripts.MONITOR_INTERVAL)),
        writable=bool(session.writable),  # F4: the owner chose to keep changes (committable)
    )


def authorized_keys(session: Session) -> list[str]:
    """One line per chosen key, each limited by the session's whitelists (`from=`)."""
    option = wlsvc.sshd_from_option(session.whitelists, allow_all=session.allow_all)
    lines = []
    for key_id in session.ssh_key_ids:
        key = keysvc.get_key(session.user, key_id)
        lines.append(keysvc.authorized_keys_line(key, option))
    return lines


def plan(session: Session) -> tuple[JobSpec, Callable[[Backend], None]]:
    """The spec, and what to write as the owner, worked out from the database alone (no
    command runs here): sets the row's directory and sbatch options (issue #13)."""
    if session.image_type == "custom":  # issue #12: the committed file, unchanged
        verify_for_start(session.project_id, session.image, session.image_path)
    data = script_input(session)
    session.directory = data.directory
    if "%" in data.directory or "\\" in data.directory:  # sbatch expands them in --output
        raise ServiceError(_l("The session directory path cannot be used."), "bad_directory")
    spec = JobSpec(
        script="#!/bin/bash\n", job_name=session.name, account=session.account,
        partition=session.partition, cpus=session.cpus, mem=f"{session.mem_gb}G",
        gres=f"gpu:{session.gpu_model}:{session.gpu_count}" if session.gpu_count else None,
        time=session.time_limit_min, begin=_aware(session.begin_at),
        workdir=data.directory, output=data.log_file,
    )
    session.sbatch_args = sbatch_args(spec)
    script = scripts.render(data, session.sbatch_args)
    user = session.user.unix_user
    root = data.directory.rsplit("/", 1)[0]
    services = list(session.services)
    keys = authorized_keys(session) if "ssh" in services else []

    def write(backend: Backend) -> None:
        """The session's files, written as the owner (commands: no transaction open)."""
        backend.files.make_dirs(user, root, data.directory,
                                mount_dir(data.directory))  # an image file's mount
        if "ssh" in services:
            sshd = Sshd(backend.scheduler.runner, backend.files)
            sshd.prepare(user, data.sshd_spec, keys)
            backend.files.write(user, data.sshd_spec.config_path, scripts.sshd_config(data))
        backend.files.write(user, data.monitor_file, scripts.monitor_source())  # F3 monitoring
        if "jupyter" in services:  # Jupyter trusts only the proxy's header (issue 12)
            backend.files.write(user, data.jupyter_config_file, scripts.jupyter_config_source())
        backend.files.write(user, data.script_file, script.encode("utf-8"))

    return replace(spec, script=script), write


def prepare(session: Session, backend: Backend) -> JobSpec:
    """Write the session directory, sshd files and script as the owner; return the spec."""
    spec, write = plan(session)
    write(backend)
    return spec


def _aware(value):
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None else None


def launch(session: Session, backend: Backend) -> Session:
    """Write the files and submit exactly once: the tracked-job lifecycle
    (portal/services/tracked.py) with a session's plan and words.

    On refusal the row and its directory are removed and ServiceError raised (a 503 naming
    the outage when Slurm could not be reached at all); when Slurm does not answer it
    stays "submitting" with `error` set, never resubmitted: the worker adopts it by its
    tag, or fails it once Slurm can no longer process the request.
    """
    if session.partition is None:
        session.partition = _partition(session)
    return tracked.launch(session, backend, LAUNCH)


class _SessionLaunch(tracked.Launch):
    """A session through tracked.launch: held for approval over the GPU threshold,
    removed when refused (a session is never kept as a failed request)."""

    noun = "session"

    def tag(self, session: Session) -> str:
        return tag_of(session)

    def plan(self, session: Session):
        spec, write = plan(session)
        return approvals.gate(spec, session.project, session.gpu_count), write  # held?

    def deleted_meanwhile(self, session: Session) -> bool:
        return session.state == "ended" and session.slurm_job_id is None

    def cancel(self, session: Session, backend: Backend) -> None:
        _cancel(session, backend, as_user=session.user.unix_user)

    def retry_later(self):
        return _l("Nothing was submitted; create the session again when Slurm is back.")

    def refused(self, message: str):
        return _l("Slurm refused the session: %(message)s", message=message)

    def unprepared(self, message: str) -> ServiceError:
        return ServiceError(_l("The session could not be prepared: %(message)s",
                               message=message), "prepare_failed")


LAUNCH = _SessionLaunch()
submission_uncertain = tracked.uncertain  # sbatch got no answer, not resolved yet


def uncertain_message(session: Session) -> str:
    """What the create answers when sbatch got no answer (API 503)."""
    return str(_l("Slurm's controller did not confirm session %(id)s (%(error)s). It is "
                  "recorded and will not be submitted twice: the portal looks it up by its "
                  "tag and shows within a few minutes whether Slurm accepted it. Do not "
                  "create it again before then.", id=session.id, error=session.error))


def visible_sessions(user, membership: Membership | None = None, limit: int = 500):
    """The list: own sessions in the project; managers also see members' (F2), and so do
    members of a project with `members_see_sessions` (the list only: `may_open` says which
    rows they may open or delete, and get_session refuses the others).
    """
    membership = membership or current_membership(user)
    if membership is None:
        return []
    stmt = select(Session).where(Session.project_id == membership.project_id,
                                 Session.hidden.is_(False))
    if membership.role != ProjectRole.MANAGER and not membership.project.members_see_sessions:
        stmt = stmt.where(Session.user_id == user.id)
    return list(db.session.scalars(stmt.order_by(Session.id.desc()).limit(limit)))


def get_session(user, session_id: int, *, manage: bool = False) -> Session:
    """The user's own session (or, with `manage`, one of a project they manage).

    Raises NotFound for anyone else's, without saying whether it exists.
    """
    session = db.session.get(Session, session_id)
    if session is None or session.hidden:
        raise NotFound(_l("No such session."))
    if session.user_id == user.id:
        return session
    if manage and is_manager(user, session.project_id):
        return session
    raise NotFound(_l("No such session."))


def delete_session(user, session_id: int, backend: Backend | None = None) -> Session:
    """scancel an open session ("deleting" until Slurm confirms); hide an ended one.

    Owners and the project's managers may delete. Raises NotFound, or ServiceError with
    Slurm's words when the cancel is refused.
    """
    session = get_session(user, session_id, manage=True)
    if session.state == AWAITING:  # never submitted: the request is taken back (#12)
        return sessionwithdraw.withdraw(user, session)
    proxy.forget(session.id)
    if session.state in ("ended", "failed"):
        session.hidden = True
    elif session.state in DELETABLE:
        backend = backend or get_backend()
        _cancel(session, backend, as_user=user.unix_user or session.user.unix_user)
    db.session.commit()
    audit.record("session.delete", f"session:{session.id}", actor=user, name=session.name,
                 slurm_job_id=session.slurm_job_id, owner=session.user.username)
    return session


def _cancel(session: Session, backend: Backend, as_user: str) -> None:
    if session.slurm_job_id is None:
        try:
            found = backend.scheduler.find_by_comment(tag_of(session),
                                                      user=session.user.unix_user)
        except AdapterError as exc:
            raise outage.unavailable(exc) from None
        if found is None:
            session.state, session.ended_at = "ended", db.utcnow()
            return
        session.slurm_job_id = found.id
    tracked.scancel(session, backend, as_user)
    session.state, session.delete_requested_at = "deleting", db.utcnow()


def delete_sessions(user, session_ids, backend: Backend | None = None) -> list:
    """Delete several; returns [(id, error message or None)] in the given order."""
    backend = backend or get_backend()
    results = []
    for session_id in session_ids:
        try:
            delete_session(user, int(session_id), backend)
            results.append((session_id, None))
        except ServiceError as exc:
            db.session.rollback()
            results.append((session_id, str(exc.message)))
    return results


def probe(session: Session, backend: Backend | None = None) -> Session:
    """Bring a pending/starting session up to date now, at most every PROBE_INTERVAL.

    One squeue for this one job and, once it runs, one read of its connection file.
    Bounded per session (not per page view), so slurmctld sees no more RPCs because
    more people look (decision 3). Never raises for Slurm trouble.
    """
    from portal.services import readystages, sessionsync

    now = db.utcnow()
    waiting_app = readystages.waiting_for_app(session)
    if (session.state not in ("pending", "starting") and not waiting_app) \
            or not session.slurm_job_id:
        return session
    if session.probed_at and now - session.probed_at < PROBE_INTERVAL:
        return session
    session.probed_at = now
    if waiting_app:  # running: only "does Jupyter answer yet" (issue #17 item 5)
        readystages.check_app(session)
        db.session.commit()
        return session
    backend = backend or get_backend()
    try:
        infos = backend.scheduler.info_all(job_ids=[session.slurm_job_id])
    except (AdapterError, ValueError):
        db.session.commit()
        return session
    info = next((i for i in infos if i.id == session.slurm_job_id), None)
    if info is not None and not info.state.is_terminal:
        sessionsync.apply(session, cluster._plain(info), backend)
    db.session.commit()
    return session
