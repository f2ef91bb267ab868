"""The sbatch script of a session, rendered from jobscripts/session.sh.j2 (decision 4).

Like batch jobs (`portal.services.jobscript`): Jinja2 without autoescape, StrictUndefined,
and every value through `shq`. The container command lines come from the runtime adapter
(`Runtime.service_argv`); the job script only appends what it learns on the node (the
ports). The sshd configuration is issue 6's (`adapters.sshd.render_config`), written into
the session directory before submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.sshd import LOGIN_GRACE_S, SshdSpec, render_config, sshd_argv
from portal.services.jobscript import container_argv, environment, mount_dir, resubmit_args

SCRIPT_NAME = "session.sh"
LOG_NAME = "output.log"
CONN_NAME = "connection.json"
# F3 monitoring: the sampler copied next to the script, and the samples it appends.
MONITOR_NAME = "session_monitor.py"
METRICS_NAME = "metrics.jsonl"
MONITOR_SOURCE = Path(__file__).resolve().parents[2] / "jobscripts" / MONITOR_NAME
# Jupyter's configuration: it accepts only the proxy's `Authorization: token` (issue 12).
JUPYTER_CONFIG_NAME = "jupyter_portal_config.py"
JUPYTER_CONFIG_SOURCE = MONITOR_SOURCE.with_name(JUPYTER_CONFIG_NAME)
MONITOR_INTERVAL = 10
SSH_DIR = "ssh"
ROOT_NAME = "rootfs"  # F4: the session's writable layer inside its directory
# The sshd listens where the job script says (`-p`); the config's port is a placeholder.
PLACEHOLDER_PORT = 2222
DEFAULT_PATH = "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
READY_TIMEOUT = 120


@dataclass(frozen=True)
class SessionScriptInput:
    """Everything session.sh.j2 needs; paths are absolute paths on the nodes."""

    session_id: int
    tag: str
    name: str
    user: str
    home: str
    workspace: str
    directory: str
    image_key: str
    image_path: str
    services: tuple[str, ...]
    gpus: int = 0
    shm_gb: int = 0
    runtime: str = "charliecloud"
    base_url: str = "/"
    path: str = DEFAULT_PATH
    monitor_interval: int = MONITOR_INTERVAL
    # F4: services write to a kept per-session layer (ROOT_NAME) that can be committed.
    writable: bool = False

    @property
    def script_file(self) -> str:
        return f"{self.directory}/{SCRIPT_NAME}"

    @property
    def log_file(self) -> str:
        return f"{self.directory}/{LOG_NAME}"

    @property
    def conn_file(self) -> str:
        return f"{self.directory}/{CONN_NAME}"

    @property
    def writable_root(self) -> str | None:
        """The session's kept writable layer (F4 custom images): a private copy of a
        directory image (Charliecloud) or an overlay directory (Apptainer); the job
        script makes it before the services start and removes it when the job ends."""
        return f"{self.directory}/{ROOT_NAME}" if self.writable else None

    @property
    def monitor_file(self) -> str:
        return f"{self.directory}/{MONITOR_NAME}"

    @property
    def jupyter_config_file(self) -> str:
        return f"{self.directory}/{JUPYTER_CONFIG_NAME}"

    @property
    def metrics_file(self) -> str:
        return f"{self.directory}/{METRICS_NAME}"

    @property
    def passwd_file(self) -> str:
        return f"{self.directory}/{SSH_DIR}/passwd"

    @property
    def group_file(self) -> str:
        return f"{self.directory}/{SSH_DIR}/group"

    @property
    def sshd_spec(self) -> SshdSpec:
        return SshdSpec(directory=f"{self.directory}/{SSH_DIR}", port=PLACEHOLDER_PORT)


def _service(data: SessionScriptInput, command: list[str]) -> list[str]:
    return container_argv(data, command, service=True, env={"PATH": data.path})


def jupyter_argv(data: SessionScriptInput) -> list[str]:
    """Jupyter Server at the portal's base URL, refusing other ports; the job script
    appends the address (the node's name, as the portal reaches it) and the port.

    The portal's proxy authorises people; Jupyter accepts only the proxy's header with the
    session's secret (jobscripts/jupyter_portal_config.py): no token, cookie or login form
    a browser could carry to the node directly.
    """
    return _service(data, [
        "jupyter", "server",
        f"--config={data.jupyter_config_file}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={data.base_url}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=True",
        f"--ServerApp.root_dir={data.workspace}",
    ])


def session_sshd_argv(data: SessionScriptInput) -> list[str]:
    """sshd in the image; where the runtime needs it (Charliecloud), with the session's own
    /etc/passwd and /etc/group (`login_files_script`) so a login lands in the workspace
    with the user's login shell (issue #16), not in `/` with /bin/sh."""
    argv = _service(data, sshd_argv(data.sshd_spec))
    if login_probe_argv(data) is None:
        return argv
    extra = _runtime(data).account_files_args(data.passwd_file, data.group_file)
    return [argv[0], *extra, *argv[1:]]


def _runtime(data: SessionScriptInput):
    from adapters.runtime import make_runtime

    return make_runtime(data.runtime, home=data.home, mount_dir=mount_dir(data.directory))


# Prints the first of its arguments that is an executable file in the image, else /bin/sh.
SHELL_PROBE = 'for s in "$@"; do if [ -x "$s" ]; then echo "$s"; exit 0; fi; done; echo /bin/sh'


def login_probe_argv(data: SessionScriptInput) -> list[str] | None:
    """The container command that picks the login shell (the job script appends the
    candidates: the user's shell on the node, then /bin/bash); None when the runtime shows
    the host's account entry itself."""
    if ":" in data.workspace or not _runtime(data).account_files_args(data.passwd_file,
                                                                      data.group_file):
        return None  # a ':' cannot be written into passwd: sshd keeps the runtime's entry
    return container_argv(data, ["/bin/sh", "-c", SHELL_PROBE, "sh"], shm=False)


def sshd_config(data: SessionScriptInput) -> str:
    """issue 6's sshd_config, with StrictModes off under Charliecloud.

    Inside ch-run every directory above the user's files belongs to `nobody` (the user
    namespace maps only the user) and /home is a world-writable tmpfs, so StrictModes
    refuses every key; the session directory is 0700 and written only as the user.
    """
    return render_config(
        data.sshd_spec, data.user, strict_modes=data.runtime != "charliecloud"
    )


def render(data: SessionScriptInput, sbatch_args: list[str]) -> str:
    """The script text. Raises ValueError for a value that cannot be used safely."""
    return environment().get_template("session.sh.j2").render(
        session_id=data.session_id,
        tag=data.tag,
        name=data.name,
        user=data.user,
        home=data.home,
        directory=data.directory,
        image=data.image_key,
        services=list(data.services),
        path=data.path,
        script_file=data.script_file,
        conn_file=data.conn_file,
        resubmit_args=resubmit_args(sbatch_args),
        jupyter_argv=jupyter_argv(data) if "jupyter" in data.services else None,
        sshd_argv=session_sshd_argv(data) if "ssh" in data.services else None,
        login_probe_argv=login_probe_argv(data) if "ssh" in data.services else None,
        passwd_file=data.passwd_file,
        group_file=data.group_file,
        ready_timeout=READY_TIMEOUT,
        monitor_file=data.monitor_file,
        metrics_file=data.metrics_file,
        monitor_interval=data.monitor_interval,
        ssh_grace=LOGIN_GRACE_S,
        workspace=data.workspace,
        root=data.writable_root,
        root_argv=root_argv(data),
    )


def root_argv(data: SessionScriptInput) -> list[str] | None:
    """The command that makes the session's writable layer (F4); None: the services run
    the image as it is and nothing they change outside the workspace is kept."""
    if not data.writable_root:
        return None
    from adapters.runtime import make_runtime

    return make_runtime(data.runtime, home=data.home).writable_root_argv(
        data.image_path, data.writable_root)


def monitor_source() -> bytes:
    """The sampler's text, written next to the script (jobscripts/session_monitor.py)."""
    return MONITOR_SOURCE.read_bytes()


def jupyter_config_source() -> bytes:
    """Jupyter's configuration, written next to the script (jobscripts/jupyter_portal_config.py)."""
    return JUPYTER_CONFIG_SOURCE.read_bytes()


def terminal_argv(data: SessionScriptInput, shell: str = "/bin/bash") -> list[str]:
    """The web terminal's login shell in the session's image, in the workspace."""
    return container_argv(
        data, [shell, "-l"], service=True,
        env={"PATH": data.path, "TERM": "xterm-256color"}, shm=False,
    )
