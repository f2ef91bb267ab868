"""F9 SSH keys: list, generate (private key downloaded once), import, delete."""

from flask import Blueprint

bp = Blueprint("keys", __name__, url_prefix="/keys")

from portal.keys import routes  # noqa: E402,F401
