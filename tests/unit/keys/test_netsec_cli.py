"""`portal key …` and `portal whitelist …` (as root, naming the user)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner

from portal import cli, cli_common
from tests.unit.keys.netsec_support import audit_actions, key_count, pub


@pytest.fixture
def run(app, monkeypatch, make_user):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the admin on the login node
    make_user("ursula")
    runner = CliRunner()

    def _run(*args, input=None):
        return runner.invoke(cli.main, [*args], input=input)

    return _run


def test_key_verbs(run, tmp_path):
    out = tmp_path / "id_ci"
    created = run("key", "create", "ci", "--out", str(out), "--user", "ursula")
    assert created.exit_code == 0, created.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert run("key", "create", "ci2", "--out", str(out), "--user", "ursula").exit_code == 1

    imported = run("key", "import", "desk", "--user", "ursula", input=pub("ed25519.pub"))
    assert imported.exit_code == 0 and "SHA256:" in imported.output
    refused = run("key", "import", "bad", "--user", "ursula",
                  input="-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n")
    assert refused.exit_code == 1 and "This is a private key." in refused.output
    assert "b3Bl" not in refused.output

    listed = json.loads(run("key", "list", "--json", "--user", "ursula").output)
    assert [k["name"] for k in listed] == ["ci", "desk"]
    assert run("key", "delete", str(listed[1]["id"]), "--user", "ursula", input="n\n"
               ).exit_code == 1
    assert run("key", "delete", str(listed[1]["id"]), "--yes", "--user", "ursula").exit_code == 0
    assert key_count() == 1
    assert [a for a, _ in audit_actions("key.")] == ["key.create", "key.import", "key.delete"]
    assert audit_actions("key.")[0][1]["name"] == "ci"


def test_whitelist_verbs(run):
    refused = run("whitelist", "create", "office", "10.0.0.0/8 tcp 22", "0.0.0.0/0 udp",
                  "--user", "ursula")
    assert refused.exit_code == 1 and "--admit-all" in refused.output
    created = run("whitelist", "create", "office", "10.0.0.0/8 tcp 22", "0.0.0.0/0 udp",
                  "--admit-all", "--user", "ursula")
    assert created.exit_code == 0, created.output
    assert "every address on the internet" in created.output
    bad = run("whitelist", "create", "lab", "10.0.0.1/8", "--user", "ursula")
    assert bad.exit_code == 1 and "Did you mean 10.0.0.0/8?" in bad.output
    wid = json.loads(run("whitelist", "list", "--json", "--user", "ursula").output)[0]["id"]
    assert run("whitelist", "add", str(wid), "192.0.2.0/24", "--user", "ursula").exit_code == 0
    check = run("whitelist", "check", str(wid), "::ffff:10.1.1.1", "--user", "ursula")
    assert json.loads(check.output) == {"address": "10.1.1.1", "ssh": True, "web": False}
    assert run("whitelist", "delete", str(wid), "--yes", "--user", "ursula").exit_code == 0
    assert json.loads(run("whitelist", "list", "--json", "--user", "ursula").output) == []


def test_root_must_name_a_user(run):
    result = run("key", "list")
    assert result.exit_code == 1 and "--user" in result.output
