"""The home page, the project picker and the "not built yet" pages of the left menu."""

from portal.main import routes  # noqa: F401
from portal.main.blueprint import bp  # noqa: F401 - the app registers it
