"""F11 cost analysis (/costs/) and the admins' prices page (/admin/prices/)."""

from flask import Blueprint

bp = Blueprint("costs", __name__)

from portal.costs import routes  # noqa: E402,F401
