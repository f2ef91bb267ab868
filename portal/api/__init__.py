"""The JSON API under /api/v1: personal access tokens, JSON errors, an OpenAPI document."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import (  # noqa: E402,F401
    audit,  # noqa: E402,F401
    costs,  # noqa: E402,F401
    custom_images,  # noqa: E402,F401
    gpu_usage,  # noqa: E402,F401
    idempotency,  # noqa: E402,F401 - Idempotency-Key on every POST (issue #13)
    jobs,
    keys,
    monitoring,  # noqa: E402,F401
    orders,  # noqa: E402,F401
    projects,
    routes,
    sessions,
    wallet,  # noqa: E402,F401
    whitelists,
)
