"""Apptainer (`apptainer exec`): the production runtime (SIF files or sandbox directories).

Flags as documented for `apptainer exec` (apptainer 1.x): `--nv` for NVIDIA GPUs,
`--bind src:dest[:ro]`, `--env NAME=VALUE`, `--pwd DIR`, `--writable-tmpfs` for a
scratch overlay that vanishes with the container, `--containall` is not used because
the workspace and the job directory must stay visible. Apptainer binds the host's /dev,
so /dev/shm is the node's; `shm_size` is not enforced per container.
"""

from __future__ import annotations

import os

from adapters.runtime.base import Runtime


class Apptainer(Runtime):
    """`apptainer exec [options] IMAGE CMD...`.

    `writable` maps to `--writable-tmpfs` (the image stays unchanged; writes go to a tmpfs
    overlay that is discarded at exit). Session services run with it: a SIF is read-only,
    and tools that write under /var or /run in the image (sshd, pip caches) get a scratch
    overlay that vanishes with the job; the workspace bind is where work is kept.
    """

    name = "apptainer"
    default_binary = "apptainer"
    service_writable = True

    def _argv(self, image, command, *, binds, env, workdir, gpus, writable) -> list[str]:
        argv = [self.binary, "exec"]
        if gpus:
            argv.append("--nv")
        for bind in binds:
            mode = ":ro" if bind.read_only else ""
            argv.append(f"--bind={bind.source}:{bind.target}{mode}")
        for key, value in env.items():
            if "," in value:
                # --env takes a comma-separated list: a comma would split the value.
                raise ValueError(f"environment value of {key} must not contain ','")
            argv.append(f"--env={key}={value}")
        if workdir is not None:
            argv.append(f"--pwd={workdir}")
        if writable:
            argv.append("--writable-tmpfs")
        if command[0].startswith("-"):
            raise ValueError("the command must not start with '-'")
        return [*argv, image, *command]

    def image_exists(self, path: str) -> bool:
        """A SIF file or a sandbox directory."""
        if os.path.isdir(path):
            return os.path.isdir(os.path.join(path, "usr"))
        return os.path.isfile(path) and path.endswith(".sif")
