"""F8 schedules: cron trigger in an IANA timezone, window, template, single/multi-line."""

from portal.schedules import routes  # noqa: F401
from portal.schedules.blueprint import bp  # noqa: F401 - the app registers it
