"""F6 batch jobs: run job, job list, job detail with live log, delete."""

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

from portal.jobs import routes  # noqa: E402,F401
