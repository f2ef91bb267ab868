"""F10 IP whitelists: named rule sets (CIDR, protocol, port) that sessions enforce."""

from flask import Blueprint

bp = Blueprint("whitelists", __name__, url_prefix="/whitelists")

from portal.whitelists import routes  # noqa: E402,F401
