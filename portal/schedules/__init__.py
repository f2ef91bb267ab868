"""F8 schedules: cron trigger in an IANA timezone, window, template, single/multi-line."""

from flask import Blueprint

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

from portal.schedules import routes  # noqa: E402,F401
