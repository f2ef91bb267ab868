"""F3 session monitoring in the pages: the charts' JSON (cookie login) and chart.js."""

from flask import Blueprint

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

from portal.monitoring import routes  # noqa: E402,F401
