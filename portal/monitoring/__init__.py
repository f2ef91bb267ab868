"""F3 session monitoring in the pages: the charts' JSON (cookie login) and chart.js."""

from portal.monitoring import routes  # noqa: F401
from portal.monitoring.blueprint import bp  # noqa: F401 - the app registers it
