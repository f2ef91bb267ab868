"""F9 SSH keys: list, generate (private key downloaded once), import, delete."""

from portal.keys import routes  # noqa: F401
from portal.keys.blueprint import bp  # noqa: F401 - the app registers it
