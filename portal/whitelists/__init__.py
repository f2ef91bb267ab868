"""F10 IP whitelists: named rule sets (CIDR, protocol, port) that sessions enforce."""

from portal.whitelists import routes  # noqa: F401
from portal.whitelists.blueprint import bp  # noqa: F401 - the app registers it
