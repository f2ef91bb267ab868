"""F11 orders and approvals: the order list and detail, managers' approval pages."""

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from portal.orders import routes  # noqa: E402,F401
