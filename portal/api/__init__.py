"""The JSON API under /api/v1: personal access tokens, JSON errors, an OpenAPI document."""

from portal.api import (  # noqa: F401 - each module adds its routes to bp
    audit,
    costs,
    custom_images,
    gpu_usage,
    idempotency,  # Idempotency-Key on every POST (issue #13)
    idle_policy,  # a project's idle reclaim (issue #17)
    jobs,
    keys,
    monitoring,
    orders,
    projects,
    routes,
    sessions,
    wallet,
    whitelists,
)
from portal.api.blueprint import bp  # noqa: F401 - the app registers it
