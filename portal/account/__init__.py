"""F11/F12 account pages: cloud-platform activation, operation log, contact admin."""

from portal.account import routes  # noqa: F401
from portal.account.blueprint import bp  # noqa: F401 - the app registers it
