"""Page glue shared by the project and admin pages: refusals become 403/404 or a flash."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash
from flask_babel import gettext as _

from portal.services import Forbidden, NotFound, ServiceError


def attempt(action: Callable[[], object], done: str | None = None) -> bool:
    """Run a service call: 404/403 for NotFound/Forbidden, a flash for other refusals.

    Returns True when it succeeded (and flashes `done`).
    """
    try:
        action()
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
    except ServiceError as exc:
        flash(str(exc.message), "error")
        return False
    if done:
        flash(done, "info")
    return True


def form_expired() -> None:
    flash(_("The form expired. Please try again."), "error")


def guarded(load: Callable[[], object]):
    """The loaded object, or 404/403 for a refusal."""
    try:
        return load()
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)
