#!/usr/bin/env python3
"""`portal` for users on a login node: jobs, sessions, templates and schedules through the
portal's API with the user's own personal access token.

One file with the standard library only (argparse, urllib, json), so any login node with a
Python 3.9+ installs it with one command and no virtual environment:

    curl -fsS https://PORTAL/client/portal -o ~/.local/bin/portal && chmod +x ~/.local/bin/portal
    portal login --url https://PORTAL      # paste a token made on the Account page

The token is kept in $XDG_CONFIG_HOME/slurm-gpu-portal/client.json (default ~/.config/…),
mode 0600 in a 0700 folder; the client refuses to read it when others could. PORTAL_URL and
PORTAL_TOKEN override the file (for scripts). Creating requests send a fresh Idempotency-Key,
so a retried command never creates twice. The admin commands stay on the portal host.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import ssl
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

CONFIG_NAME = "client.json"
TIMEOUT = 60


class ClientError(Exception):
    """A message for the user; the command exits 1."""


# -- the stored login ----------------------------------------------------------------------


def config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "slurm-gpu-portal", CONFIG_NAME)


def save_login(url: str, token: str) -> str:
    """Write {url, token} 0600 in a 0700 folder, never through a symlink."""
    path = config_path()
    folder = os.path.dirname(path)
    if os.path.islink(folder):
        raise ClientError(f"{folder} is a symbolic link; remove it and log in again.")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "token": token}, fh)
    os.replace(tmp, path)
    return path


def load_login() -> tuple[str, str]:
    url, token = os.environ.get("PORTAL_URL"), os.environ.get("PORTAL_TOKEN")
    if url and token:
        return url, token
    path = config_path()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ClientError("Not logged in: run `portal login --url https://PORTAL` with a "
                          "token from the portal's Account page.") from None
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd) as fh:
        mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
        if mode & 0o077:
            raise ClientError(f"{path} is mode {mode:04o}: others could read your token. "
                              f"Run: chmod 600 {path}")
        try:
            data = json.load(fh)
        except ValueError:
            raise ClientError(f"{path} is not valid JSON: log in again.") from None
    if not isinstance(data, dict) or not data.get("url") or not data.get("token"):
        raise ClientError(f"{path} holds no login: log in again.")
    return url or data["url"], token or data["token"]


# -- HTTP ----------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str, ca_file: str | None = None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClientError(f"not a portal address: {url!r} (e.g. https://portal.example)")
        self.base = url.rstrip("/") + "/api/v1"
        self.token = token
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def call(self, method: str, path: str, body: dict | None = None, raw: bool = False):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": "portal-client"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        request = urllib.request.Request(self.base + path, data=data, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self.context) as r:
                payload = r.read()
        except urllib.error.HTTPError as exc:
            raise ClientError(_error_text(exc)) from None
        except urllib.error.URLError as exc:
            raise ClientError(f"the portal at {self.base} did not answer: {exc.reason}") from None
        except TimeoutError:
            raise ClientError(f"the portal at {self.base} did not answer within {TIMEOUT}s "
                              "(nothing was retried)") from None
        if raw:
            return payload.decode("utf-8", "replace")
        return json.loads(payload) if payload else None


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read()).get("error") or {}
        message = error.get("message") or exc.reason
        code = error.get("code")
    except (ValueError, AttributeError):
        message, code = exc.reason, None
    if exc.code == 401:
        return f"{message} (HTTP 401: log in again with a valid token)"
    return f"{message} (HTTP {exc.code}{', ' + code if code else ''})"


# -- output --------------------------------------------------------------------------------


def _show(data, as_json: bool, line) -> None:
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for item in data if isinstance(data, list) else [data]:
        print(line(item))


def _job_line(j: dict) -> str:
    slurm = f"slurm {j['slurm_job_id']}" if j.get("slurm_job_id") else "not in Slurm yet"
    why = f"  ({j['reason_text']})" if j.get("reason_text") else ""
    return f"{j['id']:>6}  {j['state']:<10} {j['name']}  {slurm}{why}"


def _session_line(s: dict) -> str:
    return f"{s['id']:>6}  {s['state']:<10} {s['name']}  {s.get('image', '')}"


def _named_line(x: dict) -> str:
    return f"{x['id']:>6}  {x['name']}"


# -- commands ------------------------------------------------------------------------------


def cmd_login(args) -> None:
    url = args.url or os.environ.get("PORTAL_URL")
    if not url:
        raise ClientError("say where the portal is: portal login --url https://PORTAL")
    token = (sys.stdin.readline() if args.token_stdin
             else getpass.getpass("Personal access token (from the Account page): ")).strip()
    if not token:
        raise ClientError("no token given: nothing was saved")
    me = Api(url, token, args.ca_file).call("GET", "/me")
    path = save_login(url, token)
    print(f"Logged in to {url} as {me['username']}; token saved in {path} (mode 0600).")


def cmd_logout(args) -> None:
    path = config_path()
    try:
        os.remove(path)
    except FileNotFoundError:
        print("Not logged in.")
        return
    print(f"Removed {path}. The token itself stays valid until you revoke it on the "
          "Account page.")


def _spec(args) -> dict:
    body = {k: v for k, v in {
        "name": args.name, "image": args.image, "image_type": args.image_type,
        "gpu_model": args.gpu_model, "gpu_count": args.gpus, "cpus": args.cpus,
        "mem_gb": args.mem_gb, "shm_gb": args.shm_gb}.items() if v is not None}
    return body


def cmd_job_run(args, api: Api) -> dict:
    body = _spec(args)
    if args.template is not None:
        body["template_id"] = args.template
    if args.time is not None:
        body["time_limit"] = args.time
    if args.command_file is not None:
        with (sys.stdin if args.command_file == "-" else open(args.command_file)) as fh:
            body["command"] = fh.read()
    elif args.command is not None:
        body["command"] = args.command
    elif args.template is None:
        raise ClientError("give the command: --command TEXT or --command-file FILE (- for "
                          "standard input), or --template ID")
    return api.call("POST", "/jobs", body)


def cmd_session_create(args, api: Api) -> dict:
    body = _spec(args)
    if args.hours is not None:
        body.update(end="hours", hours=args.hours)
    return api.call("POST", "/sessions", body)


def _extend(kind: str):
    def run(args, api: Api) -> dict:
        return api.call("POST", f"/{kind}/{args.id}/extend", {"hours": args.hours})
    return run


def _delete(kind: str, words: str):
    def run(args, api: Api) -> None:
        api.call("DELETE", f"/{kind}/{args.id}")
        print(words.format(id=args.id))
    return run


def _get(path: str):
    return lambda args, api: api.call("GET", path.format(id=getattr(args, "id", None)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal", description="The GPU portal from a login node, with your own token.")
    parser.add_argument("--ca-file", help="CA bundle for the portal's TLS certificate")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    login = groups.add_parser("login", help="Save the portal's address and your token.")
    login.add_argument("--url", help="the portal's address, e.g. https://portal.example")
    login.add_argument("--token-stdin", action="store_true",
                       help="read the token from standard input instead of asking")
    login.set_defaults(run=cmd_login, api=False)
    logout = groups.add_parser("logout", help="Forget the saved token.")
    logout.set_defaults(run=cmd_logout, api=False)
    whoami = groups.add_parser("whoami", help="Who the saved token belongs to.")
    whoami.set_defaults(run=_get("/me"), api=True,
                        line=lambda m: f"{m['username']} ({m.get('email') or 'no e-mail'})")
    whoami.add_argument("--json", action="store_true")

    def command(group, name, run, line=None, help=None, with_id=False):
        p = group.add_parser(name, help=help)
        if with_id:
            p.add_argument("id", type=int)
        p.add_argument("--json", action="store_true", help="print the API's JSON")
        p.set_defaults(run=run, api=True, line=line)
        return p

    def spec_options(p, image_required=True):
        p.add_argument("--name")
        p.add_argument("--image", required=image_required,
                       help="a public image's name, or a custom image's name:tag")
        p.add_argument("--image-type", choices=["public", "custom"])
        p.add_argument("--gpus", type=int)
        p.add_argument("--gpu-model")
        p.add_argument("--cpus", type=int)
        p.add_argument("--mem-gb", type=int)
        p.add_argument("--shm-gb", type=int)

    jobs = groups.add_parser("job", help="Batch jobs.").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(jobs, "list", _get("/jobs"), _job_line, "Your jobs.")
    command(jobs, "show", _get("/jobs/{id}"), _job_line, "One job.", with_id=True)
    run = command(jobs, "run", cmd_job_run, _job_line, "Submit a job.")
    spec_options(run, image_required=False)  # a --template brings its own
    run.add_argument("--command", help="the command, run as typed inside the image")
    run.add_argument("--command-file", help="a file with the command (- : standard input)")
    run.add_argument("--time", help='time limit as sbatch --time takes it, e.g. 30 or "2:00:00"')
    run.add_argument("--template", type=int, help="run a job template (ID)")
    command(jobs, "cancel", _delete("jobs", "Job {id} cancelled."), help="Cancel a job.",
            with_id=True)
    log = command(jobs, "log", lambda a, api: api.call("GET", f"/jobs/{a.id}/log", raw=True),
                  help="Print a job's log.", with_id=True)
    log.set_defaults(line=str, raw=True)
    extend = command(jobs, "extend", _extend("jobs"), _job_line,
                     "Add hours to a running job's time limit.", with_id=True)
    extend.add_argument("--hours", type=int, required=True)

    sessions = groups.add_parser("session", help="Interactive container sessions.") \
        .add_subparsers(dest="action", required=True, metavar="ACTION")
    command(sessions, "list", _get("/sessions"), _session_line, "Your sessions.")
    command(sessions, "show", _get("/sessions/{id}"), _session_line, "One session.",
            with_id=True)
    create = command(sessions, "create", cmd_session_create, _session_line,
                     "Start a session.")
    spec_options(create)
    create.add_argument("--hours", type=int, help="end it after N hours (default: never)")
    command(sessions, "delete", _delete("sessions", "Session {id} is being deleted."),
            help="End a session.", with_id=True)
    extend = command(sessions, "extend", _extend("sessions"), _session_line,
                     "Add hours to a running session.", with_id=True)
    extend.add_argument("--hours", type=int, required=True)

    templates = groups.add_parser("template", help="Job templates.").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(templates, "list", _get("/templates"), _named_line, "Your templates.")
    trun = command(templates, "run", lambda a, api: api.call(
        "POST", f"/templates/{a.id}/run", {"name": a.name} if a.name else {}),
        _job_line, "Run a template as a job.", with_id=True)
    trun.add_argument("--name")

    schedules = groups.add_parser("schedule", help="Schedules.").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    command(schedules, "list", _get("/schedules"), _named_line, "Your schedules.")
    command(schedules, "show", _get("/schedules/{id}"), _named_line, "One schedule.",
            with_id=True)
    command(schedules, "delete", _delete("schedules", "Schedule {id} deleted."),
            help="Delete a schedule.", with_id=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.api:
            args.run(args)
            return 0
        url, token = load_login()
        result = args.run(args, Api(url, token, args.ca_file))
        if result is None:
            return 0
        if getattr(args, "raw", False):
            sys.stdout.write(result)
            return 0
        _show(result, args.json, args.line or (lambda x: json.dumps(x)))
        return 0
    except ClientError as exc:
        print(f"portal: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
