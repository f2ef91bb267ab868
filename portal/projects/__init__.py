"""F2 projects: cards with live usage, detail, the managers' edit page, extension requests."""

from flask import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/projects")

from portal.projects import routes  # noqa: E402,F401
