"""F11 personal settings: theme and language; the profile with password and API tokens."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from portal.settings import routes  # noqa: E402,F401
