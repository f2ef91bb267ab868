"""Interactive containers (F3): create (with a confirmation summary), batch create for
managers, list, detail with connection information, the web terminal page, delete."""

from portal.sessions import routes  # noqa: F401
from portal.sessions.blueprint import bp  # noqa: F401 - the app registers it
