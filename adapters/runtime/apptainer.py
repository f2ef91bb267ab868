"""Apptainer (`apptainer exec`): the production runtime (SIF files or sandbox directories).

Flags as documented for `apptainer exec` (apptainer 1.x): `--nv` for NVIDIA GPUs,
`--bind src:dest[:ro]`, `--env NAME=VALUE`, `--pwd DIR`, `--writable-tmpfs` for a
scratch overlay that vanishes with the container, `--containall` is not used because
the workspace and the job directory must stay visible. Apptainer binds the host's /dev,
so /dev/shm is the node's; `shm_size` is not enforced per container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from adapters.runtime.base import (
    Bind,
    Runtime,
    check_command,
    check_count,
    check_env,
    check_path,
)


class Apptainer(Runtime):
    """`apptainer exec [options] IMAGE CMD...`."""

    name = "apptainer"

    def __init__(self, binary: str = "apptainer", home: str | None = None):
        self.binary = binary
        self.home = check_path("home", home) if home else None

    def exec_argv(
        self,
        image: str,
        command_argv: Sequence[str],
        *,
        binds: Sequence[Bind] = (),
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        gpus: int = 0,
        shm_size: int = 0,
        writable: bool = False,
    ) -> list[str]:
        """See Runtime.exec_argv. `writable` maps to `--writable-tmpfs` (the image stays
        unchanged; writes go to a tmpfs overlay that is discarded at exit)."""
        argv = [self.binary, "exec"]
        if check_count("gpus", gpus):
            argv.append("--nv")
        check_count("shm_size", shm_size)
        for bind in binds:
            mode = ":ro" if bind.read_only else ""
            argv.append(f"--bind={bind.source}:{bind.target}{mode}")
        for key, value in check_env(env).items():
            if "," in value:
                # --env takes a comma-separated list: a comma would split the value.
                raise ValueError(f"environment value of {key} must not contain ','")
            argv.append(f"--env={key}={value}")
        if workdir is not None:
            argv.append(f"--pwd={check_path('workdir', workdir)}")
        if writable:
            argv.append("--writable-tmpfs")
        image = check_path("image", image)
        command = check_command(command_argv)
        if command[0].startswith("-"):
            raise ValueError("the command must not start with '-'")
        return [*argv, image, *command]

    def service_argv(
        self,
        image: str,
        command_argv: Sequence[str],
        *,
        binds: Sequence[Bind] = (),
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        gpus: int = 0,
        shm_size: int = 0,
    ) -> list[str]:
        """Session services run with `--writable-tmpfs`: a SIF is read-only, and tools
        that write under /var or /run in the image (sshd, pip caches) get a scratch
        overlay that vanishes with the job; the workspace bind is where work is kept."""
        return self.exec_argv(
            image, command_argv, binds=binds, env=env, workdir=workdir, gpus=gpus,
            shm_size=shm_size, writable=True,
        )

    def image_exists(self, path: str) -> bool:
        """A SIF file or a sandbox directory."""
        if os.path.isdir(path):
            return os.path.isdir(os.path.join(path, "usr"))
        return os.path.isfile(path) and path.endswith(".sif")
