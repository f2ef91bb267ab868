"""F1 in a real browser: log in as the admin, switch language and theme, log out."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_admin_logs_in_switches_language_and_theme_and_logs_out(
    make_user, live_server, page, tmp_path
):
    make_user("admin", admin=True)
    page.goto(f"{live_server}/")
    assert "/login" in page.url
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_selector("[data-testid=current-user]")
    assert "admin" in page.inner_text("[data-testid=current-user]")
    assert page.is_visible("nav.sidemenu >> text=GPU rental overview")

    page.click("[data-testid=lang-zh_TW]")
    page.wait_for_selector("text=登出")
    assert page.inner_text("nav.sidemenu").count("專案") >= 1
    page.screenshot(path=str(tmp_path / "zh-light.png"))

    page.click("[data-testid=theme-toggle]")
    page.wait_for_selector("html[data-theme=dark]")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 28)"
    page.screenshot(path=str(tmp_path / "zh-dark.png"))

    page.click("[data-testid=lang-en]")
    page.wait_for_selector("text=Log out")
    page.click("[data-testid=logout]")
    page.wait_for_selector("[data-testid=login-submit]")
    assert "You have been logged out." in page.content()
    page.goto(f"{live_server}/settings/profile")
    assert "/login" in page.url


def test_wrong_password_shows_one_message(make_user, live_server, page):
    make_user("admin", admin=True)
    page.goto(f"{live_server}/login")
    page.fill("#username", "admin")
    page.fill("#password", "wrong password here")
    page.click("[data-testid=login-submit]")
    page.wait_for_selector("text=Wrong username or password.")
