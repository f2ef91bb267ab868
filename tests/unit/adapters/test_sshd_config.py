"""The session sshd's files and command line, without starting anything."""

from __future__ import annotations

import pytest

from adapters.sshd import SshdSpec, render_authorized_keys, render_config, sshd_argv

SPEC = SshdSpec("/home/alice/.portal/sessions/7/sshd", 42022, "0.0.0.0")


def test_argv_is_foreground_stderr_and_our_config_only():
    assert sshd_argv(SPEC) == ["/usr/sbin/sshd", "-D", "-e", "-f",
                               "/home/alice/.portal/sessions/7/sshd/sshd_config"]


def test_config_allows_only_this_users_public_keys():
    lines = render_config(SPEC, "alice").splitlines()
    for expected in ["Port 42022", "ListenAddress 0.0.0.0", "PasswordAuthentication no",
                     "AuthenticationMethods publickey", "UsePAM no", "StrictModes yes",
                     "AllowUsers alice", "PidFile none",
                     "AuthorizedKeysFile /home/alice/.portal/sessions/7/sshd/authorized_keys",
                     "HostKey /home/alice/.portal/sessions/7/sshd/ssh_host_ed25519_key"]:
        assert expected in lines


def test_authorized_keys_refuses_smuggled_lines():
    text = render_authorized_keys(['from="10.0.0.0/8" ssh-ed25519 AAAA', "ssh-ed25519 BBBB"])
    assert text == 'from="10.0.0.0/8" ssh-ed25519 AAAA\nssh-ed25519 BBBB\n'
    for bad in ["ssh-ed25519 AAAA\nssh-ed25519 EVIL", "a\x00b", "a\rb", ""]:
        with pytest.raises(ValueError):
            render_authorized_keys([bad])


@pytest.mark.parametrize(
    "directory, port, listen",
    [
        ("relative/dir", 42022, "0.0.0.0"),
        ("/home/alice/../root", 42022, "0.0.0.0"),
        ("/home/alice/my dir", 42022, "0.0.0.0"),
        ("/home/alice/%u", 42022, "0.0.0.0"),
        ("/home/alice/x", 22, "0.0.0.0"),
        ("/home/alice/x", 70000, "0.0.0.0"),
        ("/home/alice/x", 42022, "localhost"),
    ],
)
def test_unusable_specs_are_refused(directory, port, listen):
    with pytest.raises(ValueError):
        SshdSpec(directory, port, listen)


def test_user_names_are_checked():
    with pytest.raises(ValueError):
        render_config(SPEC, "alice bob")


@pytest.mark.parametrize("strict, line", [(True, "StrictModes yes"), (False, "StrictModes no")])
def test_strict_modes_can_be_turned_off(strict, line):
    lines = render_config(SPEC, "alice", strict_modes=strict).splitlines()
    assert line in lines
    assert sum(entry.startswith("StrictModes") for entry in lines) == 1


def test_strict_modes_is_on_by_default():
    assert "StrictModes yes" in render_config(SPEC, "alice").splitlines()
