"""F11/F12 account pages: cloud-platform activation, operation log, contact admin."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from portal.account import routes  # noqa: E402,F401
