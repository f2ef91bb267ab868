"""Jupyter Server configuration of a portal session (copied next to session.sh).

Started as `jupyter server --config=<this file>` with the session's secret in the
environment variable PORTAL_JUPYTER_SECRET. The portal's proxy (/s/<id>/) is the only
client meant to reach this server: it has already checked the user, the session and the
whitelists, and it sends the secret as `Authorization: token <secret>` with every request
and websocket handshake. This identity provider accepts exactly that, and nothing else:
no `?token=`, no login form, no login cookie (a cookie the browser held would open the
server from any address, around the whitelists).

Jupyter itself never holds the secret as its `token`, so nothing it renders can carry it to
a browser: JupyterLab's page config (`jupyter-config-data`), the `data-jupyter-api-token`
of its HTML pages, the server-info file. The variable is removed from the environment
before kernels and terminals start, so `env` in a notebook does not show it either.

Needs jupyter_server >= 2 (identity providers); with anything older the server refuses to
start rather than fall back to a token it would show.
"""

import hmac
import os

SECRET_ENV = "PORTAL_JUPYTER_SECRET"

try:
    from jupyter_server.auth.identity import IdentityProvider, User
except ImportError:  # jupyter_server 1.x or Notebook: no identity providers
    raise SystemExit(
        "portal session: this image's Jupyter Server is too old (jupyter_server >= 2 needed)"
    ) from None

_SECRET = os.environ.pop(SECRET_ENV, "")
if not _SECRET:
    raise SystemExit(f"portal session: {SECRET_ENV} is not set; refusing to start Jupyter")
_USER = os.environ.get("USER") or "user"


class PortalIdentityProvider(IdentityProvider):
    """Authenticated by the portal's `Authorization: token <secret>` header alone."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token = ""  # Jupyter's own token: shown in pages and files, so none at all
        self.token_generated = False

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False  # no /login: an unauthenticated request gets 403, not a login form

    def get_user(self, handler):
        match = self.auth_header_pat.match(handler.request.headers.get("Authorization", ""))
        if match is None or not hmac.compare_digest(
                match.group(2).strip().encode(), _SECRET.encode()):
            return None
        # Token-authenticated: Jupyter then skips its XSRF and Origin checks, which the
        # portal does itself (same-origin rule for websockets and unsafe methods).
        handler._token_authenticated = True
        return User(username=_USER, name=_USER, display_name=_USER)

    def set_login_cookie(self, handler, user) -> None:
        """No login cookie: every request must come through the portal's proxy."""

    def process_login_form(self, handler):
        return None


c = get_config()  # noqa: F821 - provided by traitlets when it runs this file
c.ServerApp.identity_provider_class = PortalIdentityProvider
