"""F6 batch jobs: run job, job list, job detail with live log, delete."""

from portal.jobs import routes  # noqa: F401
from portal.jobs.blueprint import bp  # noqa: F401 - the app registers it
