"""Outage errors named by what is down, in words a user understands (issue #13).

The adapters say *that* Slurm did not answer (SlurmUnreachable, CommandTimeout) and
`adapters.errors.outage_of` says *what* did not: the controller (slurmctld), the
accounting service (slurmdbd), the database behind it (MariaDB/MySQL), or a compute node.
A refusal (Slurm answered "no") is never reported as an outage, nor an outage as a
refusal: with MariaDB down sacctmgr says "Unable to connect to database", which is a 503
"try later", not a 502 "Slurm refused".
"""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from adapters.errors import CommandTimeout, never_sent, outage_of
from portal.services import ServiceError


def _seconds() -> str:
    timeout = current_app.config.get("COMMAND_TIMEOUT") if has_app_context() else None
    return f"{float(timeout or 30):g}"


def describe(exc: BaseException) -> str:
    """One sentence saying what is down (or not answering) for `exc`."""
    component = outage_of(exc)
    timed_out = isinstance(exc, CommandTimeout)
    if component == "database":
        return str(_l("Slurm's accounting database (the MariaDB/MySQL server behind slurmdbd) "
                      "is down: slurmdbd answers but can neither read nor store anything."))
    if component == "slurmdbd":
        if timed_out:
            return str(_l("Slurm's accounting service (slurmdbd) did not answer within "
                          "%(seconds)s s.", seconds=_seconds()))
        return str(_l("Slurm's accounting service (slurmdbd) is not answering."))
    if component == "node":
        return str(_l("A compute node is not responding (its slurmd does not answer)."))
    if never_sent(exc):
        return str(_l("Slurm's controller (slurmctld) is not running or cannot be reached."))
    if timed_out:
        return str(_l("Slurm's controller (slurmctld) did not answer within %(seconds)s s "
                      "(it may be overloaded or hung).", seconds=_seconds()))
    return str(_l("Slurm's controller (slurmctld) is not answering (it may be overloaded, "
                  "hung or restarting)."))


def unavailable(exc: BaseException, consequence=None) -> ServiceError:
    """A 503 `slurm_unavailable` naming what is down; `consequence` says what that meant for
    the request (default: nothing was changed). Slurm's own words follow in brackets."""
    consequence = consequence or _l("Nothing was changed; try again in a few minutes, and "
                                    "tell the cluster's administrators if it lasts.")
    detail = getattr(exc, "message", "") or str(exc)
    message = f"{describe(exc)} {consequence}" + (f" ({detail})" if detail else "")
    return ServiceError(message, "slurm_unavailable", 503,
                        details={"outage": outage_of(exc) or "controller"})
