"""The reverse proxy to sessions' Jupyter (`/s/<session-id>/…`) and the web terminal socket.

Forwarding rules are in portal/services/proxy.py; connections to nodes in
adapters/upstream.py (HTTP) and adapters/pty.py (the terminal's srun). Jupyter does its
own CSRF checks (the proxy authenticates to it with the session's token), so the portal's
form CSRF does not apply here; cross-site requests are refused by their Origin instead.
"""

from portal.proxy import routes, terminal  # noqa: F401
from portal.proxy.blueprint import bp  # noqa: F401 - the app registers it
