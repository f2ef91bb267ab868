"""F2 projects: cards with live usage, detail, the managers' edit page, extension requests."""

from portal.projects import routes  # noqa: F401
from portal.projects.blueprint import bp  # noqa: F401 - the app registers it
