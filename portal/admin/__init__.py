"""F13 admin pages: projects (create, quota, dates, QOS, extensions), QOS, users.

One module per admin area; every page is for platform administrators only (403 else).
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from portal.admin import idle, projects, qos, users  # noqa: E402,F401
