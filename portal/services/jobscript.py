"""The sbatch script of a batch job, rendered from jobscripts/batch.sh.j2.

Jinja2 with autoescape off (it is a shell script, not HTML) and StrictUndefined; every
interpolated value goes through the `shq` filter (shlex.quote), so nothing a user typed
can become shell syntax. The user's command is NOT in the script: it is its own file,
run by the container's shell (ARCHITECTURE.md decision 2).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from adapters.runtime import Bind, make_runtime
from portal.config import REPO_ROOT

JOBSCRIPTS = REPO_ROOT / "jobscripts"
SCRIPT_NAME = "job.sh"
COMMAND_NAME = "command.sh"
LOG_NAME = "output.log"
# Flags that belong to the portal's own submission, not to a hand-made resubmission.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
PORTAL_ONLY_FLAGS = ("--parsable", "--comment=", "--begin=", "--dependency=", "--hold")


def shq(value: object) -> str:
    """shlex.quote for any value (None becomes '')."""
    return shlex.quote("" if value is None else str(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(JOBSCRIPTS)),
        autoescape=False,  # noqa: S701 - a shell script; values are shell-quoted instead
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["shq"] = shq
    return env


@dataclass(frozen=True)
class ScriptInput:
    """Everything batch.sh.j2 needs; paths are absolute host paths."""

    job_id: int
    tag: str
    name: str
    user: str
    home: str
    workspace: str
    directory: str
    image_path: str
    image_key: str
    shell: str
    gpus: int
    shm_gb: int
    runtime: str = "charliecloud"
    nodes: int = 1  # more than one: the container runs on every node through srun

    @property
    def script_file(self) -> str:
        return f"{self.directory}/{SCRIPT_NAME}"

    @property
    def command_file(self) -> str:
        return f"{self.directory}/{COMMAND_NAME}"

    @property
    def log_file(self) -> str:
        return f"{self.directory}/{LOG_NAME}"


def container_argv(
    data, command: list[str], *, service: bool = False, env: dict | None = None,
    shm: bool = True,
) -> list[str]:
    """`command` in the image of `data` (a job's ScriptInput or a session's
    SessionScriptInput), as its runtime starts it for the owner: the workspace bound at its
    own path and the initial directory, the GPUs, and (with `shm`) the /dev/shm size.

    `service` builds a long-running session service (`Runtime.service_argv`) instead of a
    batch command (`Runtime.exec_argv`). Raises ValueError for a value that could be misread.
    """
    runtime = make_runtime(data.runtime, home=data.home, mount_dir=mount_dir(data.directory))
    extra = {}
    if service and getattr(data, "writable_root", None):
        extra["root"] = data.writable_root  # a session's kept writable layer (F4)
    build = runtime.service_argv if service else runtime.exec_argv
    return build(
        data.image_path,
        command,
        binds=[Bind(data.workspace, data.workspace)],
        env=env,
        workdir=data.workspace,
        gpus=data.gpus,
        shm_size=data.shm_gb * 1024 if shm else 0,
        **extra,
    )


def mount_dir(directory: str) -> str:
    """Where the runtime mounts an image file for a job or session in `directory` (made by
    the portal as the owner with the directory; see Charliecloud `--mount`)."""
    return f"{directory}/.image-mount"


def runtime_argv(data: ScriptInput) -> list[str]:
    """The container command line: the command file run by the image's shell."""
    return container_argv(data, [data.shell, data.command_file])


def resubmit_args(sbatch_args: list[str]) -> list[str]:
    """The portal's sbatch flags minus those only the portal's own submission needs."""
    return [a for a in sbatch_args if not a.startswith(PORTAL_ONLY_FLAGS)]


def _one_line(values) -> None:
    """Quoted values are safe in commands but not in comments: refuse line breaks."""
    for value in values:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError(f"control characters in a script value: {value!r}")


def render(data: ScriptInput, sbatch_args: list[str]) -> str:
    """The script text. Raises ValueError when a path or value cannot be used safely."""
    _one_line([*vars(data).values(), *sbatch_args])
    return environment().get_template("batch.sh.j2").render(
        job_id=data.job_id,
        tag=data.tag,
        name=data.name,
        user=data.user,
        home=data.home,
        workdir=data.workspace,
        image=data.image_key,
        shell=data.shell,
        script_file=data.script_file,
        command_file=data.command_file,
        resubmit_args=resubmit_args(sbatch_args),
        runtime_argv=runtime_argv(data),
        nodes=data.nodes,
    )
