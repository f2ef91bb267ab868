"""portal/proxy/headers.py: the proxy authenticates to Jupyter for the user, and nothing
that would open Jupyter directly (its secret, its login cookie) goes back to the browser
(issue 12, finding 6). The real attack runs in tests/security/test_sec_jupyter_token.py."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from hypothesis import given
from hypothesis import strategies as st

from portal.proxy import headers as hdr

SECRET = "ab" * 32
PORTAL = {"session", "remember_token"}


def test_upstream_gets_the_secret_and_none_of_the_clients_credentials():
    sent = hdr.upstream_request_headers([
        ("Host", "portal.example"), ("Authorization", "token stolen"),
        ("Cookie", "session=p; _xsrf=x; username-vm-4000=signed; remember_token=r"),
        ("Sec-WebSocket-Key", "k"), ("Origin", "https://portal.example"),
        ("X-XSRFToken", "x"), ("Accept", "*/*"),
    ], SECRET, PORTAL)
    assert sent == {"X-XSRFToken": "x", "Accept": "*/*", "Cookie": "_xsrf=x",
                    "Authorization": f"token {SECRET}"}


def test_a_token_parameter_is_dropped_and_the_rest_kept_as_sent():
    assert hdr.without_token_param("/s/1/lab?token=abc") == "/s/1/lab"
    assert hdr.without_token_param("/s/1/api/x?a=%2F&token=1&%74oken=2&b") == "/s/1/api/x?a=%2F&b"
    assert hdr.without_token_param("/s/1/api/tokens?tokenize=1") == "/s/1/api/tokens?tokenize=1"
    assert hdr.without_token_param("/s/1/api/status") == "/s/1/api/status"


@given(st.lists(st.tuples(st.sampled_from(["token", "a", "tok", "Token", "t%6Fken"]),
                          st.text(alphabet="xyz09", max_size=4)), max_size=6))
def test_no_token_parameter_ever_reaches_jupyter(params):
    query = "&".join(f"{k}={quote(v)}" for k, v in params)
    target = hdr.without_token_param(f"/s/1/api/contents?{query}")
    kept = parse_qsl(target.partition("?")[2], keep_blank_values=True)
    assert "token" not in [k for k, _ in kept]
    assert [k for k, _ in kept] == [k for k, _ in params if k not in ("token", "t%6Fken")]


def test_the_browser_gets_no_login_cookie_no_portal_cookie_and_no_secret():
    passed = hdr.downstream_response_headers([
        ("Set-Cookie", "username-vm-40001=2|1:0|signed; Path=/s/1/; HttpOnly"),
        ("Set-Cookie", "_xsrf=2|abc; Path=/s/1/"),
        ("Set-Cookie", "session=evil; Path=/"),
        ("X-Debug", f"token={SECRET}"),
        ("Location", "http://vm:40001/s/1/lab?reset"),
        ("Server", "TornadoServer"), ("Content-Type", "text/html"),
    ], SECRET, "vm:40001", PORTAL)
    assert passed == [("Set-Cookie", "_xsrf=2|abc; Path=/s/1/"),
                      ("Location", "/s/1/lab?reset"), ("Content-Type", "text/html")]
