"""A session's writable copy keeps what the session wrote (Charliecloud 0.38, Debian 13).

Charliecloud 0.38 turns `--home` into `--home --write-fake`, a tmpfs over the image: with
it, a writable copy's changes vanished when the container ended (seen on the Slurm 24.11
dev cluster: a committed custom image lacked the file the session made). The home goes in
as a plain bind there; read-only images keep `--home` (ch-run cannot make a mount point in
them).
"""

from __future__ import annotations

from adapters.runtime import Bind, make_runtime


def test_a_writable_copy_gets_the_home_as_a_bind_never_home():
    argv = make_runtime("charliecloud", home="/home/a").service_argv(
        "/img", ["bash", "-l"], binds=[Bind("/home/a", "/home/a")], workdir="/home/a",
        root="/home/a/portal-sessions/1/rootfs")
    assert argv == ["ch-run", "--bind=/home/a:/home/a", "--cd=/home/a", "--write",
                    "/home/a/portal-sessions/1/rootfs", "--", "bash", "-l"]
    assert "--home" not in argv


def test_a_read_only_image_still_gets_home():
    argv = make_runtime("charliecloud", home="/home/a").service_argv(
        "/img", ["bash", "-l"], binds=[Bind("/home/a", "/home/a")], workdir="/home/a")
    assert argv[:2] == ["ch-run", "--home"] and "--write" not in argv
