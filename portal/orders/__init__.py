"""F11 orders and approvals: the order list and detail, managers' approval pages."""

from portal.orders import routes  # noqa: F401
from portal.orders.blueprint import bp  # noqa: F401 - the app registers it
