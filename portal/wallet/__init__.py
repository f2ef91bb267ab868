"""F11 wallet: per-project balance, transactions with filters, admins' top-ups."""

from flask import Blueprint

bp = Blueprint("wallet", __name__, url_prefix="/wallet")

from portal.wallet import routes  # noqa: E402,F401
