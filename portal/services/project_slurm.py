"""How a project looks in Slurm, and changes made on both sides or on neither.

A project is an account (parent root) whose association carries the project QOS as its
default and only QOS (plus QOS an admin attaches); the project QOS carries the quota
(GrpTRES), the per-user GPU cap (MaxTRESPerUser) and the session limit (MaxWall). An
expired project's account association has GrpJobs=0 and GrpSubmitJobs=0: nothing new
starts or is accepted, running jobs finish.

`both_sides()` is the one way services change Slurm and the portal database together:
Slurm first, each step with its inverse; the database writes and commits last, so no
database transaction with writes is open while sacctmgr runs (issue #13). If any step (or the
commit) fails, the database rolls back and the Slurm steps already made are undone in
reverse order, so neither side keeps half a change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from adapters import factory
from adapters.errors import AdapterError, CommandTimeout, SlurmUnreachable
from portal import db
from portal.services import ServiceError

log = logging.getLogger(__name__)

QOS_PREFIX = "p_"
ORGANIZATION = "portal"


def get_accounts():
    """The accounts adapter: `app.extensions["accounts"]` when set (tests), else sacctmgr.

    Config: SLURM_BIN_DIR, COMMAND_TIMEOUT, SLURM_CLUSTER, SLURM_OPERATOR (a user to run
    sacctmgr as; default the portal's own identity) and ACCOUNTS_DRY_RUN.
    """
    config = current_app.config if has_app_context() else {}
    if has_app_context() and "accounts" in current_app.extensions:
        return current_app.extensions["accounts"]
    return factory.make_accounts(config)


def project_qos_name(account: str) -> str:
    return f"{QOS_PREFIX}{account}"


def project_tres(project) -> dict[str, int]:
    """The project quota as GrpTRES (memory in MB); limits left unset are absent."""
    tres = {}
    if project.gpu_limit is not None:
        tres["gres/gpu"] = project.gpu_limit
    if project.cpu_limit is not None:
        tres["cpu"] = project.cpu_limit
    if project.mem_limit_gb is not None:
        tres["mem"] = project.mem_limit_gb * 1024
    return tres


def per_user_tres(project) -> dict[str, int]:
    return {} if project.gpu_per_user is None else {"gres/gpu": project.gpu_per_user}


def qos_settings(project, current=None) -> dict:
    """The project QOS's settings; with `current` (a QosRecord) old TRES keys are cleared."""
    from adapters.factory import tres_update

    grp, per_user = project_tres(project), per_user_tres(project)
    if current is not None:
        grp = tres_update(current.grp_tres, grp)
        per_user = tres_update(current.max_tres_per_user, per_user)
    settings: dict = {"MaxWall": project.max_wall_minutes}
    if grp:
        settings["GrpTRES"] = grp
    if per_user:
        settings["MaxTRESPerUser"] = per_user
    return settings


def qos_list(project) -> list[str]:
    return [project.qos_name, *[q for q in project.extra_qos or [] if q != project.qos_name]]


def block_settings(blocked: bool) -> dict:
    return {"GrpJobs": 0 if blocked else None, "GrpSubmitJobs": 0 if blocked else None}


def slurm_error(exc: AdapterError) -> ServiceError:
    """The refusal a person sees when sacctmgr failed (nothing was changed)."""
    if isinstance(exc, SlurmUnreachable | CommandTimeout):  # named by what is down (#13)
        from portal.services import outage

        return outage.unavailable(exc)
    if "job(s) active" in exc.message.lower():
        return ServiceError(
            _l("Slurm refuses while that user has running or pending jobs in the project: "
               "wait until they end or cancel them, then try again."),
            "active_jobs", 409,
        )
    return ServiceError(
        _l("Slurm refused the change, so nothing was changed: %(detail)s", detail=exc.message),
        "slurm_rejected", 502,
    )


class Changes:
    """The Slurm steps of one change, each with its inverse (see `both_sides`)."""

    def __init__(self, accounts):
        self.accounts = accounts
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def step(self, action: Callable[[], bool], undo: Callable[[], object] | None = None,
             label: str = "") -> bool:
        """Run `action`; remember `undo` only when it changed something (idempotent adds)."""
        changed = action()
        if changed and undo is not None:
            self._undo.append((label, undo))
        return changed

    def rollback(self) -> list[str]:
        """Undo what was done, newest first; returns what could not be undone."""
        failed = []
        for label, undo in reversed(self._undo):
            try:
                undo()
            except AdapterError as exc:
                log.error("could not undo %s: %s", label, exc.message)
                failed.append(label)
        self._undo.clear()
        return failed


@contextmanager
def both_sides():
    """Yield `Changes`; commit the database at the end, or undo Slurm and roll back.

    Raises ServiceError (slurm_unavailable, slurm_rejected, active_jobs) for sacctmgr
    failures; other exceptions propagate after the same clean-up.
    """
    changes = Changes(get_accounts())
    try:
        # The block's rows stay pending, not flushed, until the commit: a flush would open
        # a write transaction (SQLite's one write lock) for as long as sacctmgr runs, and a
        # hung slurmdbd would then block every request and the worker (issue #13).
        with db.session.no_autoflush:
            yield changes
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        left = changes.rollback()
        if left:
            log.error("Slurm and the portal may disagree (%s): run `portal accounts check`",
                      ", ".join(left))
        if isinstance(exc, AdapterError):
            raise slurm_error(exc) from exc
        raise
