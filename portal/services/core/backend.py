"""The outside world a job or session needs: Slurm and the users' files, and where a Unix
account keeps its jobs. One configured runner serves both adapters."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from adapters import unix
from adapters.userfiles import UserFiles
from portal.services import ServiceError
from portal.slurm import make_scheduler


@dataclass
class Backend:
    """What jobs need from the outside world: Slurm and the users' files."""

    scheduler: object
    files: UserFiles


def get_backend() -> Backend:
    """The Slurm adapter and the user-file adapter, sharing one configured runner."""
    scheduler = make_scheduler(current_app.config)
    return Backend(scheduler, UserFiles(scheduler.runner))


def job_root(unix_user: str) -> tuple[str, str]:
    """(home, job root) of a Unix account. Raises ServiceError("no_unix_account")."""
    account = unix.lookup(unix_user)
    if account is None:
        raise ServiceError(
            _l("Unix account %(name)s does not exist on this host.", name=unix_user),
            "no_unix_account",
        )
    pattern = current_app.config.get("JOB_DIR", "{home}/portal-jobs")
    return account.home, pattern.format(home=account.home, user=unix_user)
