"""F11 wallet: per-project balance, transactions with filters, admins' top-ups."""

from portal.wallet import routes  # noqa: F401
from portal.wallet.blueprint import bp  # noqa: F401 - the app registers it
