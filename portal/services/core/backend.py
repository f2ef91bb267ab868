"""The outside world a job or session needs: Slurm and the users' files, and where a Unix
account keeps its jobs. One configured runner serves both adapters; both come from the
adapter factory (adapters/factory.py), like every other adapter the portal uses."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from adapters import factory, unix
from adapters.factory import UserFiles
from portal.services import ServiceError


@dataclass
class Backend:
    """What jobs need from the outside world: Slurm and the users' files."""

    scheduler: object
    files: UserFiles


def get_backend() -> Backend:
    """The Slurm adapter and the user-file adapter, sharing one configured runner."""
    return backend_for(factory.make_scheduler(current_app.config))


def backend_for(scheduler) -> Backend:
    """`scheduler` (the worker's, or a test's fake) and the users' files through its runner."""
    return Backend(scheduler, factory.make_user_files(scheduler.runner))


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
