"""F11 cost analysis (/costs/) and the admins' prices page (/admin/prices/)."""

from portal.costs import routes  # noqa: F401
from portal.costs.blueprint import bp  # noqa: F401 - the app registers it
