"""Charliecloud (`ch-run`): unprivileged directory images; the dev cluster's and CI's runtime.

ch-run needs $USER set (the job script exports it) and can only bind onto directories
that exist in a read-only image, so the user's home is mounted with `--home` (host
$HOME at guest /home/$USER) rather than `-b`, except into a writable copy (see
_bind_args). It binds the host's /dev, so /dev/shm is the node's shared tmpfs:
`shm_size` cannot be enforced per container here (memory used there still counts
against the job where Slurm limits memory).
"""

from __future__ import annotations

import os

from adapters.runtime.base import Bind, CommitPlan, Runtime, check_path


class Charliecloud(Runtime):
    """`ch-run [options] IMAGE -- CMD...`; `home` is the job owner's host home directory.

    A bind of the home directory onto /home/<user> becomes `--home`; `writable` maps to
    `--write` (directory images only: it changes the image itself, so callers pass it only
    for a private copy). GPUs need no flag: the node's /dev is bound and
    CUDA_VISIBLE_DEVICES passes through.
    """

    name = "charliecloud"
    default_binary = "ch-run"

    def _argv(self, image, command, *, binds, env, workdir, gpus, writable,
              root=None) -> list[str]:
        if root is not None:  # the session's private copy, owned by the user: ch-run -w
            image, writable = root, True
        argv = [self.binary]
        for bind in binds:
            argv += self._bind_args(bind, writable)
        for key, value in env.items():
            argv.append(f"--set-env={key}={value}")
        if env:
            argv.append("--env-no-expand")  # values are literal: no $VAR expansion
        if workdir is not None:
            argv.append(f"--cd={workdir}")
        if writable:
            argv.append("--write")
        if image.endswith(self.image_suffix) and self.mount_dir:
            # Not ch-run's default /var/tmp/$USER.ch/mnt: another user can make that first
            # and so stop every session from a custom image (the owner's own folder here).
            argv.append(f"--mount={self.mount_dir}")
        return [*argv, image, "--", *command]

    def account_files_args(self, passwd: str, group: str) -> list[str]:
        """ch-run writes its own /etc/passwd with home `/` and shell /bin/sh for the user
        (so an SSH login landed in `/` with sh); `--no-passwd` plus binds of the session's
        own files replace them (both targets exist in every image ch-run can start)."""
        for what, path in (("passwd", passwd), ("group", group)):
            if ":" in check_path(what, path):
                raise ValueError(f"{what} must not contain ':'")
        return ["--no-passwd", f"--bind={passwd}:/etc/passwd", f"--bind={group}:/etc/group"]

    def _bind_args(self, bind: Bind, writable: bool = False) -> list[str]:
        if self.home and bind.source == self.home and self._is_home_target(bind.target):
            # Charliecloud 0.38 (Debian 13) turns `--home` into `--home --write-fake`: a
            # tmpfs over the image, so what a session changed in its writable copy would be
            # gone (found by the custom-image test on Slurm 24.11). A writable copy gets a
            # plain bind, whose mount point ch-run makes in it (0.31 and 0.38 alike).
            return [f"--bind={bind.source}:{bind.target}"] if writable else ["--home"]
        if bind.read_only:
            raise ValueError("ch-run binds are read-write; read-only binds are not supported")
        return [f"--bind={bind.source}:{bind.target}"]

    @staticmethod
    def _is_home_target(target: str) -> bool:
        parent, name = os.path.split(target)
        return parent == "/home" and bool(name)

    # A committed custom image is one SquashFS file (issue #12): the portal stores it
    # root-owned and read-only, and ch-run (built with libsquashfuse) mounts it itself.
    image_suffix = ".sqfs"
    image_magic = (0, b"hsqs")

    def writable_root_argv(self, image: str, root: str) -> list[str]:
        """A private copy of the image, made by the owner (so every file is the owner's and
        `ch-run --write` may change it). Charliecloud 0.31 has no overlay (`--write-fake`
        came later), so this is a full copy: ~2 s for 157 MB, ~7 s for 418 MB on the 2-core
        dev machine. A directory image is copied with `cp -a`, a SquashFS image (a committed
        custom image) unpacked with `unsquashfs`. Both report what the owner cannot make
        (/root, /etc/shadow, device nodes): the script checks the result, not the status."""
        image, root = check_path("image", image), check_path("root", root)
        if image.endswith(self.image_suffix):
            return ["unsquashfs", "-no-progress", "-quiet", "-no-xattrs", "-dest", root, image]
        return ["cp", "-a", "--no-target-directory", "--", image, root]

    def commit_plan(self, image: str, root: str, work: str) -> CommitPlan:
        """One SquashFS file of the session's writable copy, made by the owner (so it holds
        only what the owner may read). zstd level 1: the 418 MB Jupyter copy took 2.1 s and
        became 133 MB (gzip: 26 s, 121 MB; none: 1.8 s, 353 MB). Modes are kept as they
        were (0600 stays 0600); files are recorded as root's (`-all-root`), which ch-run
        shows as the user who runs the image: the files look as they did in the session."""
        output = f"{check_path('work', work)}/image{self.image_suffix}"
        return CommitPlan(
            steps=(("mksquashfs", check_path("root", root), output, "-noappend",
                    "-no-progress", "-quiet", "-no-xattrs", "-all-root", "-one-file-system",
                    "-comp", "zstd", "-Xcompression-level", "1"),),
            output=output, progress_dir=work, expected_from=(root,))

    def image_exists(self, path: str) -> bool:
        """A directory image (a directory with the usual top-level entries ch-run needs) or
        a SquashFS file."""
        if os.path.isfile(path):
            return path.endswith(self.image_suffix)
        return os.path.isdir(path) and all(
            os.path.exists(os.path.join(path, entry)) for entry in ("bin", "etc", "usr")
        )
