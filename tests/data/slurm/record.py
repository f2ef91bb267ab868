"""Record real Slurm output for the adapter's replay tests (see README.md here).

Run as root on a machine whose dev cluster is up (etc/devcluster/cluster.sh status):

    .venv/bin/python tests/data/slurm/record.py [--stop-controller] [--timeout-job]

It drives the real `SlurmScheduler` through a recording runner, so every capture is the
exact command line the adapter runs and the exact bytes Slurm printed. Output goes to
tests/data/slurm/<major.minor>/ (e.g. 22.05/): one `index.json` describing each capture
(argv, user, exit status, the job ids of the scenario) and raw `NAME.N.stdout/.stderr`.
Run it on Debian 12 for 22.05 and on Debian 13 for 24.11. It submits short jobs as the
demo user and cancels them all before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from adapters import runner as runner_mod  # noqa: E402
from adapters.errors import AdapterError  # noqa: E402
from adapters.runner import CommandRunner  # noqa: E402
from adapters.scheduler import JobSpec, JobState, SlurmScheduler  # noqa: E402

SLEEP = "#!/bin/sh\nsleep 300\n"


class RecordingRunner(CommandRunner):
    """A CommandRunner that also keeps what each call printed, under a capture name."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.name: str | None = None
        self.captures: dict[str, list[dict]] = {}
        self.files: dict[str, bytes] = {}

    @contextmanager
    def capture(self, name: str):
        self.name, self.captures[name] = name, []
        try:
            yield
        except AdapterError as exc:  # the refusals are what we came for
            print(f"  {name}: {type(exc).__name__}: {exc.message}")
        finally:
            self.name = None

    def run(self, argv, *, check=True, **kwargs):
        result = super().run(argv, check=False, **kwargs)
        if self.name is not None:
            self._keep(result, kwargs.get("as_user"))
        if check and result.returncode != 0:
            raise self._failure(result, via_helper=kwargs.get("as_user") is not None)
        return result

    def _keep(self, result, as_user):
        calls = self.captures[self.name]
        stem = f"{self.name}.{len(calls) + 1}"
        entry = {"argv": result.argv, "as_user": as_user, "returncode": result.returncode}
        for kind, data in (("stdout", result.raw_stdout), ("stderr", result.raw_stderr)):
            if data:
                self.files[f"{stem}.{kind}"] = data
                entry[kind] = f"{stem}.{kind}"
        calls.append(entry)


def wait_for(sched, job_id, states, limit=60.0, reasons=None):
    """Poll until the job reaches one of `states` (and `reasons`), in 0.2 s steps."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with suppress(AdapterError):
            job = sched.info(job_id)
            if job.state in states and (reasons is None or job.reason in reasons):
                return
        time.sleep(0.2)
    print(f"  warning: job {job_id} did not reach {states} {reasons or ''} within {limit}s")


def submit_scenarios(sched, user, account, tag):
    """Submit the jobs whose states the captures should show; returns name → job id."""
    jobs = {}

    def spec(name, script=SLEEP, **kw):
        # A time limit lets backfill start short jobs next to the one waiting for GPUs.
        kw.setdefault("time", 10)
        return JobSpec(script=script, job_name=f"rec-{name}", account=account, **kw)

    with sched.runner.capture("submit"):
        jobs["held"] = sched.submit(spec("held", hold=True), as_user=user)
    jobs["begin"] = sched.submit(spec("begin", begin="now+3600"), as_user=user)
    jobs["dependency"] = sched.submit(
        spec("dependency", dependency=f"afterany:{jobs['held']}"), as_user=user
    )
    jobs["gpu"] = sched.submit(spec("gpu", gres="gpu:a100:2"), as_user=user)
    wait_for(sched, jobs["gpu"], {JobState.RUNNING})
    jobs["completed"] = sched.submit(spec("completed", "#!/bin/sh\ntrue\n"), as_user=user)
    jobs["failed"] = sched.submit(spec("failed", "#!/bin/sh\nexit 3\n"), as_user=user)
    for name in ("completed", "failed"):
        wait_for(sched, jobs[name], {JobState.COMPLETED, JobState.FAILED})
    with sched.runner.capture("history_right_away"):  # slurmdbd may still be behind
        sched.history(list(jobs.values()))
    jobs["resources"] = sched.submit(spec("resources", gres="gpu:a100:4"), as_user=user)
    wait_for(sched, jobs["resources"], {JobState.QUEUED}, reasons={"Resources", "Priority"})
    jobs["cancelled"] = sched.submit(spec("cancelled", hold=True), as_user=user)
    jobs["unicode"] = sched.submit(
        JobSpec(script=SLEEP, job_name="rec ü 名前", account=account, comment=tag, hold=True),
        as_user=user,
    )
    jobs["admin_held"] = sched.submit(spec("admin-held", begin="now+3600"), as_user=user)
    sched.runner.run([sched._bin("scontrol"), "hold", jobs["admin_held"]])  # as operator
    # A job name that is not UTF-8 can only come from outside the portal (#SBATCH line).
    script = b"#!/bin/sh\n#SBATCH --job-name=rec-\xff\xfe-caf\xc3\xa9\nsleep 300\n"
    home = os.path.expanduser(f"~{user}")
    argv = [sched._bin("sbatch"), "--parsable", "--hold", f"-A{account}", f"--chdir={home}"]
    result = sched.runner.run(argv, as_user=user, input=script)
    jobs["non_utf8"] = result.stdout.strip()
    return jobs


def record_refusals(sched, jobs, user, account, other_account, other_user):
    rec = sched.runner
    with rec.capture("submit_invalid_account"):
        sched.submit(JobSpec(script=SLEEP, account=other_account, hold=True), as_user=user)
    with rec.capture("submit_invalid_partition"):
        sched.submit(JobSpec(script=SLEEP, account=account, partition="nosuch"), as_user=user)
    with rec.capture("submit_invalid_qos"):
        sched.submit(JobSpec(script=SLEEP, account=account, qos="nosuch"), as_user=user)
    with rec.capture("submit_too_many_gpus"):
        sched.submit(JobSpec(script=SLEEP, account=account, gres="gpu:a100:9"), as_user=user)
    with rec.capture("hold"):
        sched.hold(jobs["begin"], as_user=user)
    with rec.capture("release"):
        sched.release(jobs["begin"], as_user=user)
    with rec.capture("release_admin_hold"):
        sched.release(jobs["admin_held"], as_user=user)
    with rec.capture("hold_unknown"):
        sched.hold("999999999", as_user=user)
    with rec.capture("delete_other_user"):
        sched.delete(jobs["gpu"], as_user=other_user)
    with rec.capture("delete"):
        sched.delete(jobs["cancelled"], as_user=user)
    with rec.capture("delete_finished"):
        sched.delete(jobs["completed"], as_user=user)
    with rec.capture("delete_unknown"):
        sched.delete("999999999", as_user=user)


def wait_for_accounting(sched, jobs, limit=60.0):
    """Poll sacct until slurmdbd has caught up with the controller on every job.

    Right after events sacct can show a job as PENDING named "allocation"; that lag may
    show in "history_right_away", the other captures wait for the complete records.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        past = {j.id: j for j in sched.history(list(jobs.values()))}
        if all(j in past and past[j].name.startswith("rec") for j in jobs.values()):
            return
        time.sleep(0.5)
    print(f"  warning: sacct did not catch up within {limit}s")


def record_reads(sched, jobs, user, tag):
    rec = sched.runner
    ids = list(jobs.values())
    wait_for_accounting(sched, jobs)
    for name, call in (
        ("info_all", lambda: sched.info_all()),
        ("info_all_user", lambda: sched.info_all(user=user)),
        ("info_all_jobs", lambda: sched.info_all(job_ids=ids)),
        ("info_running", lambda: sched.info(jobs["gpu"])),
        ("info_finished", lambda: sched.info(jobs["failed"])),
        ("info_unknown", lambda: sched.info("999999999")),
        ("find_by_comment", lambda: sched.find_by_comment(tag, user=user)),
        ("history", lambda: sched.history(ids)),
        ("history_since", lambda: sched.history(since=datetime.now() - timedelta(hours=1))),
        ("cluster_info", lambda: sched.cluster_info()),
    ):
        with rec.capture(name):
            call()
        if name == "info_all_jobs":
            sched._version = None  # so that cluster_info records `scontrol --version` too


def record_unreachable(jobs, user, account):
    """Point the clients at closed ports: real "connect failure" output, daemons untouched."""
    conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "slurm.conf"
        lines = Path(conf).read_text().splitlines()
        bad.write_text("\n".join(_closed_ports(lines)) + "\n")
        os.chmod(tmp, 0o755)
        rec = RecordingRunner(env={"SLURM_CONF": str(bad)}, timeout=60)
        sched = SlurmScheduler(runner=rec)
        with rec.capture("unreachable_status"):
            print("  status while unreachable:", sched.status(jobs["gpu"]))
        with rec.capture("unreachable_submit"):
            sched.submit(JobSpec(script=SLEEP, account=account, hold=True), as_user=user)
        with rec.capture("unreachable_history"):
            sched.history([jobs["completed"]])
        return rec


def _closed_ports(lines):
    for line in lines:
        if line.startswith("SlurmctldPort="):
            yield "SlurmctldPort=6897"
        elif line.startswith("AccountingStoragePort="):
            yield "AccountingStoragePort=6898"
        else:
            yield line


def record_stopped_controller(sched, jobs):
    """SIGSTOP slurmctld so squeue times out on its socket; always SIGCONT it again."""
    pid_file = _config_value(sched, "SlurmctldPidFile")
    pid = int(Path(pid_file).read_text().split()[0])
    os.kill(pid, signal.SIGSTOP)
    try:
        with sched.runner.capture("stopped_controller_squeue"):
            sched.info_all(job_ids=[jobs["gpu"]])
    finally:
        os.kill(pid, signal.SIGCONT)


def record_silent_controller(jobs):
    """The same capture as --stop-controller without touching the shared slurmctld.

    A listener that accepts connections and never answers stands in for a frozen
    controller (what a SIGSTOPped slurmctld looks like from a client: the kernel accepts,
    nobody replies); squeue, pointed at it through a copy of slurm.conf, times out on its
    socket with the same message. Other users of the dev cluster see nothing.
    """
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(16)
    port, held = listener.getsockname()[1], []

    def hold_connections():
        with suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=hold_connections, daemon=True).start()
    conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "slurm.conf"
            lines = [f"SlurmctldPort={port}" if line.startswith("SlurmctldPort=") else line
                     for line in Path(conf).read_text().splitlines()]
            bad.write_text("\n".join(lines) + "\n")
            os.chmod(tmp, 0o755)
            rec = RecordingRunner(env={"SLURM_CONF": str(bad)}, timeout=90)
            with rec.capture("stopped_controller_squeue"):
                SlurmScheduler(runner=rec).info_all(job_ids=[jobs["gpu"]])
            return rec
    finally:
        listener.close()
        for conn in held:
            conn.close()


def _config_value(sched, key):
    out = sched.runner.run([sched._bin("scontrol"), "show", "config"]).stdout
    for line in out.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    raise SystemExit(f"scontrol show config has no {key}")


def cleanup(sched, jobs):
    """Cancel every scenario job, as the operator (some are held by the operator)."""
    ids = [job for job in jobs.values() if job]
    if ids:
        with suppress(AdapterError):
            sched.runner.run([sched._bin("scancel"), *ids], check=False)


def save(out, rec, extra, jobs, version):
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.std*"):
        old.unlink()
    captures = {}
    for runner in (rec, *extra):
        captures.update(runner.captures)
        for name, data in runner.files.items():
            (out / name).write_bytes(data)
    index = {
        "slurm_version": version,
        "recorded": datetime.now().astimezone().isoformat(timespec="seconds"),
        "jobs": jobs,
        "captures": captures,
    }
    (out / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {len(captures)} captures to {out}")


def record_all(sched, opts, jobs, extra):
    """Every scenario, in an order that keeps finished jobs inside squeue's MinJobAge."""
    tag = f"rec-{uuid.uuid4()}"
    if opts.timeout_job:  # first, so that its minute runs while the rest is recorded
        jobs["timeout"] = sched.submit(
            JobSpec(script=SLEEP, job_name="rec-timeout", account=opts.account, time=1),
            as_user=opts.user,
        )
    jobs.update(submit_scenarios(sched, opts.user, opts.account, tag))
    record_refusals(sched, jobs, opts.user, opts.account, opts.other_account, opts.other_user)
    record_reads(sched, jobs, opts.user, tag)
    extra.append(record_unreachable(jobs, opts.user, opts.account))
    if opts.stop_controller:
        record_stopped_controller(sched, jobs)
    elif opts.silent_controller:
        extra.append(record_silent_controller(jobs))
    if opts.timeout_job:
        wait_for(sched, jobs["timeout"], {JobState.TIMEOUT}, limit=240)
        with sched.runner.capture("info_timeout"):
            sched.info(jobs["timeout"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="default: tests/data/slurm/<major.minor>")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--account", default="proja")
    parser.add_argument("--other-account", default="projb", help="one --user is not in")
    parser.add_argument("--other-user", default="bob")
    parser.add_argument(
        "--stop-controller",
        action="store_true",
        help="also SIGSTOP slurmctld ~MessageTimeout s for a socket timeout",
    )
    parser.add_argument(
        "--silent-controller",
        action="store_true",
        help="record the same socket timeout against a silent stand-in (shared clusters)",
    )
    parser.add_argument(
        "--timeout-job", action="store_true", help="also wait (~2 min) for a job to reach TIMEOUT"
    )
    parser.add_argument(
        "--bin-dir", help="Slurm's commands from here (24.11 on a 22.05 host: "
        "/var/lib/slurm-gpu-portal-2411/bin, with SLURM_CONF set to its client.conf)")
    opts = parser.parse_args(argv)
    runner_mod.use_slurm_bin_dir(opts.bin_dir)
    rec = RecordingRunner(timeout=60)
    sched = SlurmScheduler(runner=rec)
    version = sched.version()
    jobs, extra = {}, []
    try:
        record_all(sched, opts, jobs, extra)
    finally:
        cleanup(sched, jobs)
    save(opts.out or HERE / ".".join(version.split(".")[:2]), rec, extra, jobs, version)


if __name__ == "__main__":
    main()
