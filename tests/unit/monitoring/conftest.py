"""The session fixtures (fake Slurm and files) reused for monitoring."""

from tests.unit.sessions.conftest import (  # noqa: F401 - fixtures
    backend,
    ctx,
    fresh_proxy_decisions,
    image_app,
)
