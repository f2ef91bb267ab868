"""Interactive containers (F3): create (with a confirmation summary), batch create for
managers, list, detail with connection information, the web terminal page, delete."""

from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

from portal.sessions import routes  # noqa: E402,F401
