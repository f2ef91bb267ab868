"""The container runtime interface: the argv a job script runs to start a container.

A runtime never runs anything itself here: `exec_argv` returns the command line that the
sbatch script (rendered from jobscripts/) executes on the compute node, as the job's
owner, so the container lives exactly as long as the Slurm job. Every value is checked
so that the argv means what it says whatever the caller passes (no option injection, no
newlines); the script quotes each element with shlex.quote. The sessions feature extends
this interface with long-running services (`service_argv`: Jupyter, sshd, the web
terminal's shell, each its own container process on the same image and binds, all ending
with the session's job); batch jobs need only `exec_argv`.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Bind:
    """A host path mounted into the container: `source` (host) at `target` (guest)."""

    source: str
    target: str
    read_only: bool = False

    def __post_init__(self) -> None:
        for what in ("source", "target"):
            check_path(what, getattr(self, what))
        if ":" in self.source or ":" in self.target or "," in self.source + self.target:
            # Both runtimes split bind specifications on ':' (and Apptainer on ',').
            raise ValueError("bind paths must not contain ':' or ','")


def check_path(what: str, value: object) -> str:
    """An absolute, normalised path on one line; raises ValueError otherwise."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{what} must be an absolute path")
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain control characters")
    if os.path.normpath(value) != value and value != "/":
        raise ValueError(f"{what} must be a normalised path (no '..', '//' or trailing '/')")
    return value


def check_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """Environment for the container; names are identifiers, values one line."""
    out: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name: {key!r}")
        if not isinstance(value, str) or _CONTROL.search(value):
            raise ValueError(f"environment value of {key} must be one line of text")
        out[key] = value
    return out


def check_command(command_argv: Sequence[str]) -> list[str]:
    """The command run inside the container: a non-empty list of strings without NUL."""
    if isinstance(command_argv, str | bytes) or not command_argv:
        raise ValueError("command_argv must be a non-empty list of strings")
    args = list(command_argv)
    if not all(isinstance(a, str) and "\x00" not in a for a in args):
        raise ValueError("every command argument must be a string without NUL bytes")
    return args


def check_count(what: str, value: object, allow_zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise ValueError(f"{what} must be a non-negative integer")
    return value


class Runtime(ABC):
    """A container runtime: how a job script starts a command inside an image.

    The public methods check every value once, here; a subclass only turns checked values
    into its own flags (`_argv`).
    """

    name: str = ""
    default_binary: str = ""
    # Whether session services get a scratch-writable root (`writable=True`).
    service_writable: bool = False

    def __init__(self, binary: str | None = None, home: str | None = None,
                 mount_dir: str | None = None):
        """`binary` defaults to the runtime's command; `home` is the job owner's host home
        directory; `mount_dir` an existing directory of the owner's own where the runtime may
        mount an image file (Charliecloud: a SquashFS custom image). Raises ValueError for
        a path that is not absolute and normalised."""
        self.binary = self.default_binary if binary is None else binary
        self.home = check_path("home", home) if home else None
        self.mount_dir = check_path("mount_dir", mount_dir) if mount_dir else None

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
        root: str | None = None,
    ) -> list[str]:
        """The argv that runs `command_argv` in `image` and ends when the command ends.

        `binds` mount host paths; `env` adds variables; `workdir` is the initial directory
        inside; `gpus` > 0 makes the node's GPUs usable; `shm_size` (MiB, 0 = default) is
        the wanted /dev/shm size (see each runtime for how far it can honour it);
        `writable` gives a scratch-writable root that vanishes with the container;
        `root` is a session's kept writable layer (see `writable_root_argv`): the
        container's changes go there and outlive the container process.
        Raises ValueError for a value that could be misread.
        """
        check_count("gpus", gpus)
        check_count("shm_size", shm_size)
        return self._argv(
            check_path("image", image),
            check_command(command_argv),
            binds=list(binds),
            env=check_env(env),
            workdir=None if workdir is None else check_path("workdir", workdir),
            gpus=gpus,
            writable=writable,
            root=None if root is None else check_path("root", root),
        )

    @abstractmethod
    def _argv(
        self,
        image: str,
        command: list[str],
        *,
        binds: list[Bind],
        env: dict[str, str],
        workdir: str | None,
        gpus: int,
        writable: bool,
        root: str | None = None,
    ) -> list[str]:
        """`exec_argv` from values it has already checked; raises ValueError for what this
        runtime in particular cannot express."""

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
        root: str | None = None,
    ) -> list[str]:
        """The argv of one long-running session service in `image` (sessions, F3).

        The service command comes last, so a job script may append arguments it only
        knows on the node (e.g. `--port=$PORT`). Secrets go through the environment the
        runtime passes on, never into this argv (it is visible in `ps`). It is `exec_argv`
        with `writable=service_writable`; with `root` (a session's kept writable layer,
        F4) the service writes there instead. Raises ValueError like `exec_argv`.
        """
        return self.exec_argv(
            image, command_argv, binds=binds, env=env, workdir=workdir, gpus=gpus,
            shm_size=shm_size, writable=self.service_writable and root is None, root=root,
        )

    def account_files_args(self, passwd: str, group: str) -> list[str]:
        """Options that make the container's /etc/passwd and /etc/group the given host files
        (sshd takes a login's home and shell from them, issue #16); [] where the runtime
        already shows the host's entry for the user (Apptainer) or cannot do it."""
        return []

    # --- custom images (F4): a session's kept writable layer, committed to a new image ---

    # What a committed image is: one file the portal keeps root-owned and read-only
    # (issue #12): ".sqfs" a SquashFS file (Charliecloud), ".sif" a SIF file (Apptainer);
    # `image_magic` (offset, bytes) is how such a file starts.
    image_suffix: str = ""
    image_magic: tuple[int, bytes] = (0, b"")

    @abstractmethod
    def writable_root_argv(self, image: str, root: str) -> list[str]:
        """The argv the session script runs (as the owner, on the node) before its services
        start, to make `root`: the layer where the session's changes to `image` are kept."""

    @abstractmethod
    def commit_plan(self, image: str, root: str, work: str) -> CommitPlan:
        """How to turn `image` plus a session's `root` into one image file `output` inside
        the empty directory `work` (run as the session's owner; the portal then copies
        `output` into its store, reading it as the owner, and removes `work`)."""


@dataclass(frozen=True)
class CommitPlan:
    """Commands that build a committed image, in order, and where the result appears.

    `progress_dir` is the directory whose growth (bytes) measures the build's progress
    against `expected_from` (the directories whose sizes add up to the finished size).
    """

    steps: tuple[tuple[str, ...], ...]
    output: str
    progress_dir: str
    expected_from: tuple[str, ...]

    @abstractmethod
    def image_exists(self, path: str) -> bool:
        """True when `path` is an image this runtime can start (checked on this host)."""
