"""F11 personal settings: theme and language; the profile with password and API tokens."""

from portal.settings import routes  # noqa: F401
from portal.settings.blueprint import bp  # noqa: F401 - the app registers it
