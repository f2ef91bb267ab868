"""Issue #16, item 11, in a real browser: what the forms say where users got stuck.

- A whitelist rule typed with host bits set (10.1.2.3/8) is refused with a button that puts
  the network (10.0.0.0/8) in its place; one click and the rule is accepted.
- Run job and Create container: choosing "Custom image" in a project that has none says
  so and how to make one, instead of showing an empty list; the help no longer says that
  only public images are offered.
"""

from __future__ import annotations

import pytest

from tests.browser.steps import login
from tests.support.members import make_member

pytestmark = pytest.mark.browser


@pytest.fixture
def member(app):
    with app.app_context():
        make_member("ursula", "tproj")


def test_host_bits_are_fixed_with_one_click(member, live_server, page):
    login(page, live_server, "ursula")
    page.goto(f"{live_server}/whitelists/")
    page.fill("#name", "office")
    page.fill("#rules", "192.168.10.0/24\n10.1.2.3/8 tcp 22")
    page.click("[data-testid=create-whitelist]")
    page.wait_for_selector(".flash.error")
    assert "host bits" in page.inner_text(".flash.error")
    assert page.inner_text("[data-testid=cidr-fix]") == "Use 10.0.0.0/8"
    page.click("[data-testid=cidr-fix]")
    assert page.input_value("#rules") == "192.168.10.0/24\n10.0.0.0/8 tcp 22"
    page.click("[data-testid=create-whitelist]")
    page.wait_for_selector("text=Whitelist office created.")
    rules = page.inner_text("[data-testid=rule-list]")
    assert "10.0.0.0/8" in rules and "192.168.10.0/24" in rules

    page.fill("#rules", "2001:db8::1/32 tcp 443")  # the same on the rules form, IPv6
    page.click("[data-testid=add-rules]")
    page.wait_for_selector("[data-testid=cidr-fix]")
    page.click("[data-testid=cidr-fix]")
    assert page.input_value("#rules") == "2001:db8::/32 tcp 443"
    page.click("[data-testid=add-rules]")
    page.wait_for_selector("text=1 rule(s) added.")


def test_custom_image_choice_without_images_says_why(member, live_server, page):
    login(page, live_server, "ursula")
    page.goto(f"{live_server}/jobs/new")
    help_text = page.inner_text("fieldset.job-spec:has([data-testid=image])")
    assert "today the public images are offered" not in help_text
    hint = page.locator("[data-testid=no-custom-images]")
    assert not hint.is_visible()  # public images are chosen: nothing to explain
    page.check("input[name=image_type][value=custom]")
    assert hint.is_visible() and "has no custom images yet" in hint.inner_text()
    assert "Create custom image" in hint.inner_text()
    enabled = page.locator("[data-testid=image] option:not([disabled])").count()
    assert enabled == 0
    page.check("input[name=image_type][value=public]")
    assert not hint.is_visible() and page.input_value("[data-testid=image]")

    page.goto(f"{live_server}/sessions/new")
    hint = page.locator("[data-testid=no-custom-images]")
    assert not hint.is_visible()
    page.select_option("#image_type", "custom")
    assert hint.is_visible() and "has no custom images yet" in hint.inner_text()
