"""The JSON API under /api/v1: personal access tokens, JSON errors, an OpenAPI document."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import jobs, keys, projects, routes, sessions, whitelists  # noqa: E402,F401
