#!/usr/bin/env python3
"""The session's resource sampler (F3 monitoring), started by session.sh next to itself.

One long-lived python3 process, standard library only (the nodes have python3, nothing
more is assumed). It runs inside the Slurm job on the compute node, like session.sh
itself, not in the portal: the portal's rule that process calls go through adapters/
cannot reach here (the node has no portal code); its only child is a fixed-argv
`nvidia-smi --loop` with no user input. Every INTERVAL seconds it appends one JSON line
to OUT, as the job's user, with mode 0600 (the job's umask):

    {"n": 17, "t": 1764400000.0, "dt": 10.0, "src": "proc", "cpu": 0.93, "ncpu": 2,
     "mem": 123456789, "mem_limit": 2147483648, "node_cpu": 41.5,
     "disk_ws": 4096000, "disk_scratch": 0, "net_rx": 1200.0, "net_tx": 800.5,
     "gpu": null, "gpu_note": "no GPU telemetry on this node", "ssh": 0}

cpu is in cores (1.0 = one core busy), memory and disk in bytes, network in bytes/s,
node_cpu in percent of the node; gpu is a list of {"i", "util", "mem", "mem_total"} (%,
MiB) or null with gpu_note saying why. "n" counts samples across rotations.

Where the numbers come from:
- the job's cgroup when this process sits in one that belongs to the job (a path with
  `job_<SLURM_JOB_ID>`, cgroup v2 `cpu.stat`/`memory.current` or v1
  `cpuacct.usage`/`memory.usage_in_bytes`, cut at the job level so every step counts);
- otherwise (proctrack/linuxproc, no cgroup constraint, as on the dev cluster) the sum
  over the job's processes in /proc: those whose environment names this job
  (SLURM_JOB_ID, set by slurmstepd for the batch step and every `srun --overlap` step),
  plus their descendants (container processes may have a cleaned environment). Memory
  is then the sum of resident sets (shared pages count once per process).
- network: /proc/net/dev without `lo` (the node's interfaces: jobs share the node's
  network namespace);
- GPUs: one long-lived `nvidia-smi --query-gpu=... -l SEC` child for the job's GPUs
  (SLURM_JOB_GPUS), never a fork per sample; without nvidia-smi the series are null.
- SSH (idle reclaim, issue #17): with --ssh-port, "ssh" counts the logged-in SSH
  connections: ESTABLISHED TCP sockets whose local port is the session's sshd port, from
  /proc/net/tcp and /proc/net/tcp6 (the node's table: the container shares the node's
  network), that were already open --ssh-grace seconds ago. sshd closes a connection that
  has not authenticated within its LoginGraceTime (the portal writes it, equal to the
  grace), so a bare TCP connection held open (`nc node port`) is never counted; only a
  real login is. sshd's ClientAlive settings drop connections whose client went away.
  Without --ssh-port "ssh" is null.
- disk: files under the workspace and the scratch directories owned by the user, walked
  at most every DISK_EVERY seconds within a budget of entries (a huge workspace must not
  cost a core); the last value is repeated in between.

The file is bounded: past MAX_BYTES it is renamed to OUT.1 (replacing the older one) and
a new one starts, so at most 2 × MAX_BYTES stay on disk. SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

NO_GPU_TELEMETRY = "no GPU telemetry on this node"
NO_GPUS = "no GPUs in this session"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---- parsers (pure; tests/unit/monitoring feeds them with hypothesis) ----

def parse_proc_stat(text: str) -> tuple[int, int] | None:
    """/proc/stat → (busy jiffies, total jiffies) of the node's `cpu` line, or None."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            try:
                values = [int(v) for v in parts[1:]]
            except ValueError:
                return None
            if len(values) < 4:
                return None
            # guest time is already in user/nice: count the first eight fields only.
            total = sum(values[:8])
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            return total - idle, total
    return None


def parse_pid_stat(text: str) -> dict | None:
    """/proc/<pid>/stat → {pid, comm, ppid, utime, stime, start, rss} (jiffies, pages).

    The command name may hold spaces and parentheses: split after the last ')'.
    """
    left, sep, right = text.rpartition(")")
    if not sep or "(" not in left:
        return None
    pid_text, _, comm = left.partition("(")
    fields = right.split()
    try:
        return {"pid": int(pid_text), "comm": comm, "ppid": int(fields[1]),
                "utime": int(fields[11]), "stime": int(fields[12]),
                "start": int(fields[19]), "rss": max(int(fields[21]), 0)}
    except (IndexError, ValueError):
        return None


def parse_cgroup_paths(text: str, job_id: str) -> dict:
    """/proc/self/cgroup → {controller: path cut at `job_<id>`} for the job's cgroups.

    cgroup v2's single line is under key "" . Paths without the job's component (the
    node's or the sandbox's cgroup) are not the job's and are left out.
    """
    marker = f"job_{job_id}"
    found = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not job_id:
            continue
        _, controllers, path = parts
        components = path.split("/")
        if marker not in components:
            continue
        cut = "/".join(components[: components.index(marker) + 1])
        for name in controllers.split(",") if controllers else [""]:
            found[name.removeprefix("name=")] = cut
    return found


def parse_keyed(text: str) -> dict:
    """`key value` lines (cpu.stat, memory.stat) → {key: int}; other lines are skipped."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_net_dev(text: str) -> tuple[int, int]:
    """/proc/net/dev → (received, transmitted) bytes over all interfaces but `lo`."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep or name.strip() == "lo":
            continue
        fields = rest.split()
        try:
            rx += int(fields[0])
            tx += int(fields[8])
        except (IndexError, ValueError):
            continue
    return rx, tx


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None  # "[N/A]", "[Not Supported]", ""
    return value if value == value and abs(value) != float("inf") else None


def parse_nvidia_csv(text: str) -> list[dict]:
    """`nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
    --format=csv,noheader,nounits` → [{"i", "util", "mem", "mem_total"}]; lines that do
    not have four fields are skipped, values nvidia-smi cannot give are None."""
    gpus = []
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) != 4:
            continue
        index = _number(fields[0])
        if index is None:
            continue
        gpus.append({"i": int(index), "util": _number(fields[1]),
                     "mem": _number(fields[2]), "mem_total": _number(fields[3])})
    return gpus


TCP_ESTABLISHED = "01"


def parse_proc_net_tcp(text: str, port: int) -> set[tuple[str, str]]:
    """/proc/net/tcp or /proc/net/tcp6 → {(remote address, inode)} of the ESTABLISHED
    sockets whose local port is `port` (a listening socket is not a connection; lines
    that do not parse are skipped)."""
    found = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != TCP_ESTABLISHED:
            continue
        _, _, local_port = fields[1].rpartition(":")
        try:
            if int(local_port, 16) != port:
                continue
        except ValueError:
            continue
        found.add((fields[2], fields[9]))
    return found


class SshWatch:
    """Logged-in SSH connections to the session's sshd: sockets seen open for longer than
    sshd's LoginGraceTime (it closes unauthenticated ones by then)."""

    def __init__(self, port: int | None, grace: float, proc: str = "/proc"):
        self.port, self.grace, self.proc = port, grace, proc
        self.first_seen: dict[tuple[str, str], float] = {}

    def count(self, now: float) -> int | None:
        if not self.port:
            return None
        current = set()
        for name in ("tcp", "tcp6"):
            current |= parse_proc_net_tcp(_read(f"{self.proc}/net/{name}") or "", self.port)
        self.first_seen = {key: self.first_seen.get(key, now) for key in current}
        return sum(1 for since in self.first_seen.values() if now - since > self.grace)


# ---- readers ----

def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


class JobCgroup:
    """CPU seconds and memory bytes of the job's cgroup (v2 or v1), when it has one."""

    def __init__(self, paths: dict, root: str = "/sys/fs/cgroup"):
        self.cpu_file = self.mem_file = self.mem_stat = None
        self.kind = None
        if "" in paths and _read(f"{root}{paths['']}/cpu.stat") is not None:
            base = f"{root}{paths['']}"
            self.kind, self.cpu_file = "cgroup2", f"{base}/cpu.stat"
            self.mem_file, self.mem_stat = f"{base}/memory.current", f"{base}/memory.stat"
        elif "cpuacct" in paths:
            cpu = f"{root}/cpuacct{paths['cpuacct']}/cpuacct.usage"
            if _read(cpu) is not None:
                self.kind, self.cpu_file = "cgroup1", cpu
                if "memory" in paths:
                    base = f"{root}/memory{paths['memory']}"
                    self.mem_file = f"{base}/memory.usage_in_bytes"
                    self.mem_stat = f"{base}/memory.stat"

    def cpu_seconds(self) -> float | None:
        text = _read(self.cpu_file) if self.cpu_file else None
        if text is None:
            return None
        if self.kind == "cgroup2":
            usec = parse_keyed(text).get("usage_usec")
            return usec / 1e6 if usec is not None else None
        value = _number(text)
        return value / 1e9 if value is not None else None

    def memory(self) -> int | None:
        text = _read(self.mem_file) if self.mem_file else None
        value = _number(text) if text else None
        if value is None:
            return None
        stat = parse_keyed(_read(self.mem_stat) or "")
        inactive = stat.get("inactive_file", stat.get("total_inactive_file", 0))
        return int(max(value - inactive, 0))  # page cache the kernel can drop is not "used"


class JobProcesses:
    """The job's processes from /proc (no cgroup): environment match plus descendants."""

    def __init__(self, job_id: str, proc: str = "/proc"):
        self.proc, self.uid = proc, os.getuid()
        self.needle = f"\0SLURM_JOB_ID={job_id}\0".encode()
        self.members: dict[tuple[int, int], bool] = {}  # (pid, start) → environment match
        self.seen: dict[tuple[int, int], int] = {}  # (pid, start) → last CPU jiffies
        self.base = 0.0  # CPU seconds of processes that have gone since the start

    def _environment_matches(self, pid: int) -> bool:
        try:
            with open(f"{self.proc}/{pid}/environ", "rb") as handle:
                return self.needle in b"\0" + handle.read() + b"\0"
        except OSError:
            return False

    def snapshot(self) -> tuple[float, int]:
        """(CPU seconds used by the job so far, resident bytes now)."""
        stats = {}
        for name in os.listdir(self.proc):
            if not name.isdigit():
                continue
            try:
                if os.stat(f"{self.proc}/{name}").st_uid != self.uid:
                    continue
            except OSError:
                continue
            info = parse_pid_stat(_read(f"{self.proc}/{name}/stat") or "")
            if info:
                stats[info["pid"]] = info
        for pid, info in stats.items():  # environments first: parents may come later
            key = (pid, info["start"])
            if key not in self.members:
                self.members[key] = self._environment_matches(pid)
        chosen = {}
        for pid, info in stats.items():
            key = (pid, info["start"])
            if self.members[key] or self._has_member_parent(info, stats):
                chosen[key] = info
        current = {key: i["utime"] + i["stime"] for key, i in chosen.items()}
        # A process that ended keeps what it used until its last sample (its children's
        # times reach a parent only when reaped: counting those too would double-count).
        self.base += sum(v for k, v in self.seen.items() if k not in current) / HZ
        self.seen = current
        self.members = {k: v for k, v in self.members.items() if k[0] in stats}
        cpu = self.base + sum(current.values()) / HZ
        return cpu, sum(i["rss"] for i in chosen.values()) * PAGE

    def _has_member_parent(self, info: dict, stats: dict) -> bool:
        hops, ppid = 0, info["ppid"]
        while ppid in stats and hops < 64:
            parent = stats[ppid]
            if self.members.get((ppid, parent["start"])):
                return True
            ppid, hops = parent["ppid"], hops + 1
        return False


class GpuReader:
    """The latest `nvidia-smi -l` reading per GPU, from one long-lived child process."""

    def __init__(self, gpus: str, interval: float):
        self.latest: dict[int, dict] = {}
        self.wanted: set[int] = set()
        self.note = None
        self.proc = None
        binary = shutil.which("nvidia-smi")
        if not gpus:
            self.note = NO_GPUS
            return
        if binary is None:
            self.note = NO_GPU_TELEMETRY
            return
        # No --id: under a device cgroup nvidia-smi sees (and renumbers) only the job's
        # GPUs, without one it sees the node's; read() picks the job's either way.
        self.wanted = {int(g) for g in gpus.split(",") if g.strip().isdigit()}
        argv = [binary, "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                "--format=csv,noheader,nounits", f"--loop={max(int(interval), 1)}"]
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.note = NO_GPU_TELEMETRY
            return
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        for line in self.proc.stdout:
            for gpu in parse_nvidia_csv(line):
                self.latest[gpu["i"]] = gpu
        self.note = NO_GPU_TELEMETRY  # nvidia-smi ended: no more readings

    def read(self) -> tuple[list | None, str | None]:
        return pick_gpus(dict(self.latest), self.wanted) if self.note is None \
            else (None, self.note)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()


def pick_gpus(latest: dict[int, dict], wanted: set[int]) -> tuple[list | None, str | None]:
    """The job's GPUs among nvidia-smi's readings: all of them when nvidia-smi sees as many
    as the job has (a device cgroup), else those whose index Slurm gave the job."""
    if not latest:
        return None, NO_GPU_TELEMETRY
    if wanted and len(latest) != len(wanted):
        latest = {i: g for i, g in latest.items() if i in wanted}
    return ([latest[i] for i in sorted(latest)], None) if latest else (None, NO_GPU_TELEMETRY)


def tree_bytes(paths, uid: int, budget: int = 20000) -> int:
    """Bytes of the files owned by `uid` under `paths` (no symlinks followed), walking at
    most `budget` entries (a partial sum beyond that)."""
    total, stack = 0, [p for p in paths if p]
    while stack and budget > 0:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                budget -= 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        if info.st_uid == uid:
                            total += info.st_blocks * 512
                except OSError:
                    continue
    return total


# ---- the loop ----

class Sampler:
    def __init__(self, args, env=os.environ):
        self.args = args
        job_id = args.job or env.get("SLURM_JOB_ID", "")
        self.cgroup = JobCgroup(parse_cgroup_paths(_read("/proc/self/cgroup") or "", job_id))
        self.procs = JobProcesses(job_id)
        self.gpus = GpuReader(env.get("SLURM_JOB_GPUS", "") or env.get("CUDA_VISIBLE_DEVICES", ""),
                              args.interval)
        self.ncpu = int(env.get("SLURM_CPUS_ON_NODE") or os.cpu_count() or 1)
        mem_mb = env.get("SLURM_MEM_PER_NODE")
        self.mem_limit = int(mem_mb) * 1024 * 1024 if mem_mb and mem_mb.isdigit() else None
        self.ssh = SshWatch(getattr(args, "ssh_port", None), getattr(args, "ssh_grace", 30.0))
        self.n = 0
        self.disk = (None, None, 0.0)  # workspace, scratch, when measured
        self.last = None

    def _disk(self, now: float) -> tuple[int | None, int | None]:
        ws, scratch, when = self.disk
        if ws is None or now - when >= self.args.disk_every:
            uid = os.getuid()
            ws = tree_bytes([self.args.workspace], uid)
            scratch = tree_bytes(self.args.scratch or [], uid)
            self.disk = (ws, scratch, now)
        return ws, scratch

    def counters(self) -> dict:
        cpu = self.cgroup.cpu_seconds() if self.cgroup.kind else None
        mem = self.cgroup.memory() if self.cgroup.kind else None
        src = self.cgroup.kind
        if cpu is None:
            cpu, mem = self.procs.snapshot()
            src = "proc"
        node = parse_proc_stat(_read("/proc/stat") or "")
        rx, tx = parse_net_dev(_read("/proc/net/dev") or "")
        return {"mono": time.monotonic(), "cpu": cpu, "mem": mem, "src": src,
                "node": node, "rx": rx, "tx": tx}

    def sample(self) -> dict | None:
        """One sample (None for the first call: rates need two readings)."""
        now, current, last = time.time(), self.counters(), self.last
        self.last = current
        if last is None:
            return None
        dt = max(current["mono"] - last["mono"], 1e-3)
        node_cpu = None
        if current["node"] and last["node"] and current["node"][1] > last["node"][1]:
            busy = current["node"][0] - last["node"][0]
            node_cpu = round(100.0 * busy / (current["node"][1] - last["node"][1]), 1)
        ws, scratch = self._disk(now)
        gpu, note = self.gpus.read()
        self.n += 1
        return {"n": self.n, "t": round(now, 2), "dt": round(dt, 2), "src": current["src"],
                "cpu": round(max(current["cpu"] - last["cpu"], 0.0) / dt, 3),
                "ncpu": self.ncpu, "mem": current["mem"], "mem_limit": self.mem_limit,
                "node_cpu": node_cpu, "disk_ws": ws, "disk_scratch": scratch,
                "net_rx": round(max(current["rx"] - last["rx"], 0) / dt, 1),
                "net_tx": round(max(current["tx"] - last["tx"], 0) / dt, 1),
                "gpu": gpu, "gpu_note": note, "ssh": self.ssh.count(time.monotonic())}


def append(path: str, line: str, max_bytes: int) -> None:
    """Append one line; past max_bytes the file becomes path.1 and a new one starts."""
    try:
        if os.path.getsize(path) >= max_bytes:
            os.replace(path, path + ".1")
    except OSError:
        pass
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--job", default="")
    parser.add_argument("--workspace", default="")
    parser.add_argument("--scratch", action="append")
    parser.add_argument("--disk-every", type=float, default=300.0)
    parser.add_argument("--max-bytes", type=int, default=1024 * 1024)
    parser.add_argument("--ssh-port", type=int, default=None)
    parser.add_argument("--ssh-grace", type=float, default=30.0,
                        help="sshd's LoginGraceTime: older connections are logged in")
    parser.add_argument("--count", type=int, default=0, help="stop after N samples (tests)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    sampler = Sampler(args)
    sampler.sample()
    written = 0
    try:
        while not stop.wait(args.interval):
            sample = sampler.sample()
            if sample is not None:
                append(args.out, json.dumps(sample, separators=(",", ":")), args.max_bytes)
                written += 1
            if args.count and written >= args.count:
                break
    finally:
        sampler.gpus.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    os.nice(5)  # a sampler yields to the user's work
    sys.exit(main())
