"""The home page, the project picker and the "not built yet" pages of the left menu."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from portal.main import routes  # noqa: E402,F401
