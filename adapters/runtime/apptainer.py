"""Apptainer (`apptainer exec`): the production runtime (SIF files or sandbox directories).

Flags as documented for `apptainer exec` (apptainer 1.x): `--nv` for NVIDIA GPUs,
`--bind src:dest[:ro]`, `--env NAME=VALUE`, `--pwd DIR`, `--writable-tmpfs` for a
scratch overlay that vanishes with the container, `--containall` is not used because
the workspace and the job directory must stay visible. Apptainer binds the host's /dev,
so /dev/shm is the node's; `shm_size` is not enforced per container.
"""

from __future__ import annotations

import os

from adapters.runtime.base import CommitPlan, Runtime, check_path


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

    def _argv(self, image, command, *, binds, env, workdir, gpus, writable,
              root=None) -> list[str]:
        argv = [self.binary, "exec"]
        if root is not None:  # a directory overlay kept for the session (F4)
            argv.append(f"--overlay={root}")
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

    image_suffix = ".sif"
    image_magic = (32, b"SIF_MAGIC")  # after the 32-byte launch line of the global header

    def writable_root_argv(self, image: str, root: str) -> list[str]:
        """An empty directory used as the session's overlay (`--overlay DIR`: writes land
        there, the SIF stays read-only; unprivileged directory overlays need Apptainer
        ≥ 1.1 with fuse-overlayfs or a kernel that allows them in user namespaces)."""
        check_path("image", image)
        return ["mkdir", "-p", "-m", "700", "--", check_path("root", root)]

    def commit_plan(self, image: str, root: str, work: str) -> CommitPlan:
        """Sandbox of the base image, the overlay's files copied over it, then
        `apptainer build new.sif sandbox` (files deleted in the session stay: overlay
        whiteouts are not replayed)."""
        work = check_path("work", work)
        sandbox, output = f"{work}/sandbox", f"{work}/image.sif"
        return CommitPlan(
            steps=(
                (self.binary, "build", "--sandbox", sandbox, check_path("image", image)),
                ("cp", "-a", "--", f"{check_path('root', root)}/.", f"{sandbox}/"),
                (self.binary, "build", output, sandbox),
            ),
            output=output, progress_dir=work, expected_from=(image, root))

    def image_exists(self, path: str) -> bool:
        """A SIF file or a sandbox directory."""
        if os.path.isdir(path):
            return os.path.isdir(os.path.join(path, "usr"))
        return os.path.isfile(path) and path.endswith(".sif")
