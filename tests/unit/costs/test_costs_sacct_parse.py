"""The import's sacct parser: real 22.05 lines, AllocTRES, memory units, and properties."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.scheduler import accounting as acc

FS = acc.FS


def line(*, jid="869", user="alice", account="proja", state="COMPLETED",
         start="2026-11-29T06:11:57", end="2026-11-29T06:12:57", elapsed="60",
         tres="billing=21,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=500M,node=1", comment=""):
    return FS.join([jid, user, account, "gpu", "normal", state, "2026-11-29T06:11:50",
                    start, end, elapsed, tres, comment])


def test_real_line():
    row = acc.parse_accounting_line(line(comment="portal-job-abc"))
    assert row.job_id == "869" and row.user == "alice" and row.account == "proja"
    assert row.elapsed_s == 60 and row.state == "COMPLETED"
    assert row.tres == acc.TresAlloc(cpus=1, mem_mb=500, gpus=2, gpu_model="a100", billing=21)
    assert row.comment == "portal-job-abc"
    assert row.start_at.tzinfo is None  # naive UTC


def test_cancelled_by_uid_and_never_started():
    assert acc.parse_accounting_line(line(state="CANCELLED by 2001")).state == "CANCELLED"
    assert acc.parse_accounting_line(line(start="Unknown", end="2026-11-29T06:12:57",
                                          tres="")) is None
    assert acc.parse_accounting_line(line(state="RUNNING", end="Unknown")) is None


def test_local_time_becomes_utc(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Taipei")
    time.tzset()
    acc._offset.cache_clear()  # offsets are cached per local hour
    try:
        row = acc.parse_accounting_line(line(start="2026-11-29T14:00:00",
                                             end="2026-11-29T15:00:00"))
        assert row.start_at == datetime(2026, 11, 29, 6, 0, 0)
        argv = acc.accounting_argv("sacct", datetime(2026, 11, 29, 6, 0, 0))
        assert "--starttime=2026-11-29T14:00:00" in argv and "--endtime=now" in argv
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        acc._offset.cache_clear()


@pytest.mark.parametrize("text,mb", [("500M", 500), ("1G", 1024), ("1.50G", 1536),
                                     ("2T", 2 * 1024 * 1024), ("1024K", 1), ("16000", 16000)])
def test_memory_units(text, mb):
    assert acc.parse_mem_mb(text) == mb


@pytest.mark.parametrize("tres,expect", [
    ("", acc.TresAlloc()),
    ("billing=1,cpu=1,mem=500M,node=1", acc.TresAlloc(1, 500, 0, None, 1)),
    ("cpu=2,mem=1G,gres/gpu=1,gres/gpu:a100=1,billing=12,node=1",
     acc.TresAlloc(2, 1024, 1, "a100", 12)),
    ("cpu=2,gres/gpu=3", acc.TresAlloc(2, 0, 3, None, 0)),  # untyped only
    ("cpu=8,gres/gpu:h100=1,gres/gpu:A100=2,billing=30", acc.TresAlloc(8, 0, 3, "a100", 30)),
])
def test_alloc_tres(tres, expect):
    assert acc.parse_alloc_tres(tres) == expect


@pytest.mark.parametrize("bad", ["cpu", "cpu=x", "mem=1Q", "billing=-1", "gres/gpu:a b=1",
                                 f"billing={2**40}"])
def test_bad_tres(bad):
    with pytest.raises(ValueError):
        acc.parse_alloc_tres(bad)


def test_problems_are_collected_not_raised():
    text = "\n".join([line(), "garbage", line(jid="x"), line(jid="870", elapsed="-1"), ""])
    rows, problems = acc.parse_accounting(text)
    assert [r.job_id for r in rows] == ["869"] and len(problems) == 3


def test_argv_states_and_format():
    argv = acc.accounting_argv("/usr/bin/sacct", datetime(2026, 1, 1), datetime(2026, 1, 2),
                               ["--clusters=c"])
    assert argv[:3] == ["/usr/bin/sacct", "--clusters=c", "--allusers"]
    assert "--state=CA,CD,F,NF,PR,TO,OOM,DL,BF" in argv and "--allocations" in argv
    assert f"--format={','.join(acc.FIELDS)}" in argv


# -- properties ---------------------------------------------------------------------------

TEXT = st.one_of(st.text(max_size=120), st.text(
    alphabet=st.sampled_from(list("0123456789.,=/:-_ KMGTPabcgimnoprsuTU\x1f\n")), max_size=120))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_parsers_never_crash(text):
    for parse in (acc.parse_alloc_tres, acc.parse_mem_mb, acc.parse_accounting_line):
        try:
            parse(text)
        except ValueError:
            pass
    rows, problems = acc.parse_accounting(text)
    assert isinstance(rows, list) and isinstance(problems, list)


MODELS = st.sampled_from(["a100", "h100", "v100", "l4"])


@settings(max_examples=200, deadline=None)
@given(cpus=st.integers(0, 10_000), mem=st.integers(0, 2_000_000), billing=st.integers(0, 10**9),
       gpus=st.dictionaries(MODELS, st.integers(1, 64), max_size=3),
       unit=st.sampled_from(["M", "G", "T"]), untyped=st.booleans(), data=st.data())
def test_alloc_tres_round_trip(cpus, mem, billing, gpus, unit, untyped, data):
    mem_text = {"M": f"{mem}M", "G": f"{mem / 1024:.2f}G", "T": f"{mem / 1024**2:.2f}T"}[unit]
    items = [f"billing={billing}", f"cpu={cpus}", f"mem={mem_text}", "node=1"]
    if gpus and untyped:
        items.append(f"gres/gpu={sum(gpus.values())}")
    items += [f"gres/gpu:{m}={n}" for m, n in gpus.items()]
    items = data.draw(st.permutations(items))
    got = acc.parse_alloc_tres(",".join(items))
    assert (got.cpus, got.billing, got.gpus) == (cpus, billing, sum(gpus.values()))
    tolerance = {"M": 0, "G": 6, "T": 6 * 1024}[unit]
    assert abs(got.mem_mb - mem) <= tolerance
    if gpus:
        assert got.gpu_model in gpus and gpus[got.gpu_model] == max(gpus.values())
    else:
        assert got.gpu_model is None
