"""The efficiency sacct parser (issue #17 item 6): real 22.05 lines with steps, TotalCPU and
memory spellings, and properties over generated jobs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.scheduler import accounting as acc

FS = acc.FS
# sacct -j 1848 --parsable2 --format=JobIDRaw,State,ElapsedRaw,TotalCPU,MaxRSS,ReqMem,AllocTRES
# on the dev cluster (Slurm 22.05.8): the allocation line sums its steps' CPU time, only
# steps carry MaxRSS.
REAL = "\n".join(FS.join(f) for f in [
    ["1848", "CANCELLED by 2001", "37", "00:21.259", "", "1G",
     "billing=11,cpu=1,gres/gpu:a100=1,gres/gpu=1,mem=1G,node=1"],
    ["1848.batch", "COMPLETED", "37", "00:01.352", "99452K", "",
     "cpu=1,gres/gpu:a100=1,gres/gpu=1,mem=1G,node=1"],
    ["1848.0", "CANCELLED by 2001", "20", "00:19.906", "8240K", "",
     "cpu=1,gres/gpu:a100=1,gres/gpu=1,mem=1G,node=1"],
])


def test_real_job_with_steps():
    usage, problems = acc.parse_usage(REAL)
    assert problems == []
    job = usage["1848"]
    assert job.state == "CANCELLED" and job.elapsed_s == 37
    assert job.total_cpu_s == pytest.approx(21.259)
    assert job.max_rss_mb == pytest.approx(99452 / 1024, abs=1)  # the larger step
    assert (job.alloc_cpus, job.alloc_mem_mb, job.gpus) == (1, 1024, 1)


def test_short_job_without_rss_samples():
    text = FS.join(["1925", "COMPLETED", "2", "00:00.009", "", "1G",
                    "billing=1,cpu=1,mem=1G,node=1"])
    assert acc.parse_usage(text)[0]["1925"].max_rss_mb is None


def test_bad_lines_are_problems_not_errors():
    usage, problems = acc.parse_usage(REAL + "\nnonsense\n" + FS.join(
        ["9", "COMPLETED", "x", "", "", "", ""]))
    assert set(usage) == {"1848"} and len(problems) == 2


@pytest.mark.parametrize("text,seconds", [
    ("00:21.259", 21.259), ("01:02:03", 3723), ("2-01:02:03.5", 2 * 86400 + 3723.5),
    ("59:59.999", 3599.999), ("00:00:00", 0)])
def test_cpu_time(text, seconds):
    assert acc.parse_cpu_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1:2:3:4", "00:61", "1:60:00", "abc", "-1:00"])
def test_cpu_time_refused(text):
    with pytest.raises(ValueError):
        acc.parse_cpu_time(text)


@pytest.mark.parametrize("text,cpus,mb", [("1G", 4, 1024), ("1Gn", 4, 1024),
                                          ("500Mc", 4, 2000), ("", 2, 0)])
def test_req_mem(text, cpus, mb):
    assert acc.parse_req_mem_mb(text, cpus) == mb


def test_argv_names_the_jobs_with_steps():
    argv = acc.usage_argv("sacct", ["12", "13"])
    assert "--jobs=12,13" in argv and "--allocations" not in argv and "-X" not in argv
    with pytest.raises(ValueError):
        acc.usage_argv("sacct", ["12;rm"])


def _cpu_text(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    frac = f"{seconds - whole:.3f}"[1:]
    head = f"{days}-" if days else ""
    return f"{head}{hours:02d}:{minutes:02d}:{secs:02d}{frac}"


@settings(max_examples=200, deadline=None)
@given(seconds=st.floats(0, 10 * 86400, allow_nan=False).map(lambda x: round(x, 3)))
def test_cpu_time_round_trip(seconds):
    assert acc.parse_cpu_time(_cpu_text(seconds)) == pytest.approx(seconds, abs=0.002)


@settings(max_examples=200, deadline=None)
@given(jid=st.integers(1, 10**9), cpus=st.integers(1, 256), mem_mb=st.integers(1, 10**6),
       elapsed=st.integers(0, 10**7), steps=st.lists(
           st.tuples(st.floats(0, 10**5, allow_nan=False), st.integers(0, 10**8)), max_size=5))
def test_job_folds_its_steps(jid, cpus, mem_mb, elapsed, steps):
    """The job's CPU time is its allocation line's; its peak memory is its largest step's
    (in whole KiB as sacct prints), never a step's on its own line."""
    total = round(sum(s for s, _ in steps), 3)
    lines = [FS.join([str(jid), "COMPLETED", str(elapsed), _cpu_text(total), "", "",
                      f"billing=1,cpu={cpus},mem={mem_mb}M,node=1"])]
    lines += [FS.join([f"{jid}.{i}", "COMPLETED", str(elapsed), _cpu_text(round(s, 3)),
                       f"{kib}K", "", f"cpu={cpus}"]) for i, (s, kib) in enumerate(steps)]
    usage, problems = acc.parse_usage("\n".join(lines))
    assert problems == [] and set(usage) == {str(jid)}
    job = usage[str(jid)]
    assert (job.alloc_cpus, job.alloc_mem_mb, job.elapsed_s) == (cpus, mem_mb, elapsed)
    assert job.total_cpu_s == pytest.approx(total, abs=0.002)
    expected = max((round(k / 1024) for _, k in steps), default=None)
    assert job.max_rss_mb == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=9), max_size=6))
def test_any_output_gives_problems_never_an_exception(rows):
    usage, problems = acc.parse_usage("\n".join(FS.join(r) for r in rows))
    assert isinstance(usage, dict) and isinstance(problems, list)
