"""F9 and F10 in chromium: create a key (the private key downloads once), import one, refuse a
private key, and make a whitelist with several rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from portal.services.keyparse import parse_public_key
from tests.browser.steps import login

pytestmark = pytest.mark.browser
KEYS = Path(__file__).resolve().parents[1] / "data" / "keys"


def test_create_downloads_the_private_key_once(make_user, live_server, page, tmp_path):
    make_user("ursula")
    login(page, live_server, "ursula")
    page.click("nav.sidemenu [data-menu=keys]")
    page.wait_for_selector("text=No keys yet.")
    page.fill("#name", "laptop")
    with page.expect_download() as info:
        page.click("[data-testid=create-key]")
    download = info.value
    assert download.suggested_filename == "id_ed25519_laptop"
    private_text = Path(download.path()).read_text()
    private = serialization.load_ssh_private_key(private_text.encode(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()

    # The page moves on to the list, which shows the new key's fingerprint once.
    row = page.wait_for_selector("tr[data-key=laptop]")
    assert parse_public_key(public).fingerprint in row.inner_text()
    assert "it will not be offered again" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "keys.png"))

    body = private_text.splitlines()[1]
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.reload()
    page.wait_for_selector("tr[data-key=laptop]")
    assert body not in page.content() and downloads == []
    assert "it will not be offered again" not in page.inner_text("main")


def test_import_a_public_key_and_refuse_a_private_one(make_user, live_server, page):
    make_user("ursula")
    login(page, live_server, "ursula")
    page.goto(f"{live_server}/keys/")
    page.fill("[data-testid=import-key-form] #name", "desk")
    page.fill("[data-testid=import-key-form] #public_key", (KEYS / "ed25519.pub").read_text())
    page.click("[data-testid=import-key]")
    row = page.wait_for_selector("tr[data-key=desk]")
    expected = json.loads((KEYS / "fingerprints.json").read_text())["ed25519.pub"]
    assert expected["fingerprint"] in row.inner_text() and "Ed25519" in row.inner_text()

    secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n" \
             "-----END OPENSSH PRIVATE KEY-----\n"
    page.fill("[data-testid=import-key-form] #name", "oops")
    page.fill("[data-testid=import-key-form] #public_key", secret)
    page.click("[data-testid=import-key]")
    page.wait_for_selector(".flash.error >> text=This is a private key.")
    assert page.input_value("[data-testid=import-key-form] #public_key") == ""
    assert page.query_selector("tr[data-key=oops]") is None

    page.click("tr[data-key=desk] [data-testid=delete-key]")
    page.wait_for_selector("text=No session uses this key.")
    page.click("[data-testid=confirm-delete]")
    page.wait_for_selector("text=Key desk deleted.")
    assert page.query_selector("tr[data-key=desk]") is None


def test_whitelist_with_several_rules(make_user, live_server, page):
    make_user("ursula")
    login(page, live_server, "ursula")
    page.click("nav.sidemenu [data-menu=whitelists]")
    page.fill("#name", "office")
    page.fill("#rules", "10.0.0.0/8 tcp 22\n10.1.2.3/16\n")
    page.click("[data-testid=create-whitelist]")
    page.wait_for_selector(".flash.error >> text=Did you mean 10.1.0.0/16?")
    assert "10.1.2.3/16" in page.input_value("#rules")  # kept, to be corrected
    page.fill("#rules", "10.0.0.0/8 tcp 22\n10.1.0.0/16\n127.0.0.1 tcp 443")
    page.click("[data-testid=create-whitelist]")
    page.wait_for_selector("text=Whitelist office created.")
    rules = page.inner_text("[data-testid=rule-list]")
    assert "10.0.0.0/8" in rules and "10.1.0.0/16" in rules and "127.0.0.1/32" in rules
    assert page.inner_text("[data-testid=checked-address]") == "127.0.0.1"
    assert "admitted" in page.inner_text("[data-testid=check-web]")
    assert "refused" in page.inner_text("[data-testid=check-ssh]")
