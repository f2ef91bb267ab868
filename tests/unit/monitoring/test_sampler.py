"""The session sampler (jobscripts/session_monitor.py): its parsers (property tests),
its cgroup and /proc readers on fake trees, file rotation, and a few real samples."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("session_monitor",
                                              ROOT / "jobscripts" / "session_monitor.py")
mon = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mon)

counts = st.integers(min_value=0, max_value=2**48)
names = st.text(st.characters(blacklist_characters="\x00\n", blacklist_categories=("Cs",)),
                max_size=20)


def pid_stat(pid, comm, ppid, utime, stime, start, rss):
    rest = [ "S", ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, 0, 0, 20, 0, 1,
             0, start, 123456, rss] + [0] * 30
    return f"{pid} ({comm}) " + " ".join(str(x) for x in rest) + "\n"


@given(st.integers(1, 2**22), names, st.integers(0, 2**22), counts, counts, counts,
       st.integers(0, 2**30))
def test_pid_stat_round_trip_whatever_the_command_name(pid, comm, ppid, utime, stime, start,
                                                       rss):
    info = mon.parse_pid_stat(pid_stat(pid, comm, ppid, utime, stime, start, rss))
    assert info == {"pid": pid, "comm": comm, "ppid": ppid, "utime": utime, "stime": stime,
                    "start": start, "rss": rss}


@given(st.text(max_size=200))
def test_pid_stat_garbage_is_none_or_a_dict(text):
    assert mon.parse_pid_stat(text) is None or isinstance(mon.parse_pid_stat(text), dict)


@given(st.lists(counts, min_size=4, max_size=10))
def test_proc_stat_busy_and_total(values):
    text = "cpu  " + " ".join(map(str, values)) + "\ncpu0 1 2 3 4\nintr 5\n"
    busy, total = mon.parse_proc_stat(text)
    first8 = values[:8]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    assert total == sum(first8) and busy == total - idle


@given(st.text(max_size=300))
def test_proc_stat_never_raises(text):
    result = mon.parse_proc_stat(text)
    assert result is None or len(result) == 2


@given(st.integers(1, 10**7), st.sampled_from(["v1", "v2"]), st.booleans())
def test_cgroup_paths_are_cut_at_the_job(job, version, in_job):
    inner = f"/slurm/uid_1000/job_{job}/step_batch/task_0" if in_job else "/process_api/abc"
    if version == "v2":
        text = f"0::{inner.replace('/slurm', '/system.slice/slurmstepd.scope')}\n"
    else:
        text = f"4:memory:{inner}\n3:cpu,cpuacct:{inner}\n1:name=systemd:/\n"
    found = mon.parse_cgroup_paths(text, str(job))
    if not in_job:
        assert found == {}
    else:
        assert found and all(p.endswith(f"/job_{job}") for p in found.values())
        assert ("" in found) == (version == "v2")
        assert version == "v2" or {"memory", "cpu", "cpuacct"} <= set(found)


@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), counts,
                          counts), max_size=6))
def test_net_dev_sums_all_but_loopback(interfaces):
    lines = ["Inter-|   Receive", " face |bytes    packets"]
    for name, rx, tx in interfaces:
        lines.append(f"  {name}: {rx} 1 0 0 0 0 0 0 {tx} 1 0 0 0 0 0 0")
    expected = [(rx, tx) for name, rx, tx in interfaces if name != "lo"]
    assert mon.parse_net_dev("\n".join(lines)) == (sum(r for r, _ in expected),
                                                   sum(t for _, t in expected))


values = st.one_of(st.integers(0, 100000).map(str), st.just("[N/A]"),
                   st.just("[Not Supported]"))


@given(st.lists(st.tuples(st.integers(0, 15), values, values, values), max_size=8))
def test_nvidia_csv(rows):
    text = "\n".join(f"{i}, {u}, {m}, {t}" for i, u, m, t in rows)
    gpus = mon.parse_nvidia_csv(text)
    assert [g["i"] for g in gpus] == [r[0] for r in rows]
    for gpu, (_, util, used, total) in zip(gpus, rows, strict=True):
        assert gpu["util"] == (float(util) if util.isdigit() else None)
        assert gpu["mem"] == (float(used) if used.isdigit() else None)
        assert gpu["mem_total"] == (float(total) if total.isdigit() else None)


@given(st.text(max_size=300))
def test_nvidia_csv_garbage_never_raises(text):
    for gpu in mon.parse_nvidia_csv(text):
        assert set(gpu) == {"i", "util", "mem", "mem_total"}


def test_keyed_files():
    assert mon.parse_keyed("usage_usec 1500\nuser_usec x\nnr_periods 0\n") == {
        "usage_usec": 1500, "nr_periods": 0}


def test_cgroup_v2_reader(tmp_path):
    job = tmp_path / "system.slice/slurmstepd.scope/job_7"
    job.mkdir(parents=True)
    (job / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    (job / "memory.current").write_text("3000000\n")
    (job / "memory.stat").write_text("anon 100\ninactive_file 1000000\n")
    paths = mon.parse_cgroup_paths("0::/system.slice/slurmstepd.scope/job_7/step_0\n", "7")
    group = mon.JobCgroup(paths, root=str(tmp_path))
    assert group.kind == "cgroup2"
    assert group.cpu_seconds() == 2.5 and group.memory() == 2000000


def test_cgroup_v1_reader(tmp_path):
    for ctrl, name, value in (("cpuacct", "cpuacct.usage", "4000000000\n"),
                              ("memory", "memory.usage_in_bytes", "5000\n"),
                              ("memory", "memory.stat", "total_inactive_file 1000\n")):
        d = tmp_path / ctrl / "slurm/uid_1/job_9"
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(value)
    text = "4:memory:/slurm/uid_1/job_9/step_batch\n2:cpuacct,cpu:/slurm/uid_1/job_9/step_batch\n"
    group = mon.JobCgroup(mon.parse_cgroup_paths(text, "9"), root=str(tmp_path))
    assert group.kind == "cgroup1" and group.cpu_seconds() == 4.0 and group.memory() == 4000


def test_no_job_cgroup_means_processes(tmp_path):
    group = mon.JobCgroup(mon.parse_cgroup_paths("4:memory:/process_api/x\n", "9"),
                          root=str(tmp_path))
    assert group.kind is None


def _fake_proc(tmp_path, procs):
    for pid, ppid, env, ticks in procs:
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "stat").write_text(pid_stat(pid, "p x)", ppid, ticks, 0, pid * 10, 10))
        (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items())
                                    + b"\0")
    (tmp_path / "self").mkdir(exist_ok=True)


def test_job_processes_by_environment_and_descent(tmp_path):
    _fake_proc(tmp_path, [
        (10, 1, {"SLURM_JOB_ID": "77"}, 100),  # the batch step
        (11, 10, {"PATH": "/bin"}, 50),  # a container process with a clean environment
        (12, 11, {}, 25),  # its child
        (20, 1, {"SLURM_JOB_ID": "770"}, 1000),  # another job
        (21, 1, {"XSLURM_JOB_ID": "77"}, 1000),  # not a match
        (30, 1, {"SLURM_JOB_ID": "77"}, 200),  # an srun --overlap step
    ])
    procs = mon.JobProcesses("77", proc=str(tmp_path))
    cpu, rss = procs.snapshot()
    assert cpu == pytest.approx((100 + 50 + 25 + 200) / mon.HZ)
    assert rss == 4 * 10 * mon.PAGE
    # the step ends: what it used stays counted
    for child in (tmp_path / "30").iterdir():
        child.unlink()
    (tmp_path / "30").rmdir()
    cpu_after, _ = procs.snapshot()
    assert cpu_after == pytest.approx(cpu)


def test_append_rotates_past_the_limit(tmp_path):
    out = str(tmp_path / "metrics.jsonl")
    for i in range(50):
        mon.append(out, json.dumps({"n": i + 1, "pad": "x" * 40}), max_bytes=500)
    assert os.path.getsize(out) <= 500 + 60
    old = Path(out + ".1").read_text().splitlines()
    new = Path(out).read_text().splitlines()
    numbers = [json.loads(x)["n"] for x in old + new]
    assert numbers == list(range(numbers[0], 51))


def test_real_samples_on_this_machine(tmp_path, monkeypatch):
    tmp = tmp_path
    out = tmp / "metrics.jsonl"
    (tmp / "ws").mkdir()
    (tmp / "ws" / "file").write_bytes(b"x" * 10000)
    monkeypatch.delenv("SLURM_JOB_GPUS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    mon.main(["--out", str(out), "--interval", "0.05", "--count", "3", "--job", "1",
              "--workspace", str(tmp / "ws")])
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert [s["n"] for s in samples] == [1, 2, 3]
    for s in samples:
        assert s["cpu"] >= 0 and s["disk_ws"] >= 10000 and s["gpu"] is None
        assert s["gpu_note"] in (mon.NO_GPUS, mon.NO_GPU_TELEMETRY)
        assert s["net_rx"] >= 0 and s["src"] in ("proc", "cgroup1", "cgroup2")


@given(st.dictionaries(st.integers(0, 7), st.just({"util": 1.0}), max_size=8),
       st.sets(st.integers(0, 7), max_size=8))
def test_pick_gpus(latest, wanted):
    readings = {i: {"i": i, **v} for i, v in latest.items()}
    gpus, note = mon.pick_gpus(readings, wanted)
    if gpus is None:
        assert note == mon.NO_GPU_TELEMETRY
    elif wanted and len(latest) != len(wanted):
        assert {g["i"] for g in gpus} == set(latest) & wanted
    else:
        assert [g["i"] for g in gpus] == sorted(latest)


def test_gpu_reader_follows_a_looping_nvidia_smi(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nfor i in 1 2 3; do\n echo '0, 10, 100, 1000'\n"
                    " echo '1, 90, 900, 1000'\n echo '2, 50, 500, 1000'\n sleep 0.1\ndone\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    reader = mon.GpuReader("1,2", 1)
    import time

    deadline = time.monotonic() + 10
    while not reader.latest and time.monotonic() < deadline:
        time.sleep(0.05)
    gpus, note = reader.read()
    assert note is None and [g["i"] for g in gpus] == [1, 2]
    reader.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while reader.note is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.read() == (None, mon.NO_GPU_TELEMETRY)
    assert mon.GpuReader("", 1).read() == (None, mon.NO_GPUS)
