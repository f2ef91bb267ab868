"""F1: login and logout."""

from portal.auth import routes  # noqa: F401
from portal.auth.blueprint import bp  # noqa: F401 - the app registers it
