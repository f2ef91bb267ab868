"""Property tests: the parsers take any text without crashing, and round-trip values.

"Without crashing" means: return a value or raise ValueError, nothing else, so one odd
record from Slurm can never take the worker down.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.errors import classify_failure, clean_message
from adapters.scheduler import JobSpec, JobState, parsers, values
from adapters.scheduler.slurm import parse_submitted, sbatch_args

# Characters Slurm output is made of, so that random text reaches the deep branches.
SLURMISH = st.text(
    alphabet=st.sampled_from(list("0123456789-:[],()=/+_ .*agpuIDXSNAnoe\x1f\x1e\n") + ["\xff"]),
    max_size=60,
)
ANY_TEXT = st.one_of(st.text(max_size=200), SLURMISH)

PARSERS = [
    values.parse_datetime,
    values.parse_duration,
    values.parse_minutes,
    values.parse_exit_code,
    values.expand_nodelist,
    values.parse_gres,
    values.parse_tres,
    values.gres_from_tres,
    values.parse_kv,
    values.split_top,
    parsers.normalize_state,
    parsers.job_id,
    parsers.parse_squeue,
    parsers.parse_squeue_record,
    parsers.parse_sacct,
    parsers.parse_sacct_line,
    parsers.parse_scontrol,
    parsers.node_available,
    parse_submitted,
    clean_message,
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda f: f.__name__)
@settings(max_examples=300)
@given(text=ANY_TEXT)
def test_parsers_return_or_raise_value_error(parse, text):
    try:
        parse(text)
    except ValueError:
        pass


@settings(max_examples=300)
@given(
    fields=st.lists(
        ANY_TEXT, min_size=len(parsers.SQUEUE_FIELDS), max_size=len(parsers.SQUEUE_FIELDS)
    )
)
def test_squeue_records_with_the_right_field_count(fields):
    try:
        parsers.parse_squeue_record("\x1f".join(f.replace("\x1f", "") for f in fields))
    except ValueError:
        pass


@settings(max_examples=300)
@given(
    kv=st.dictionaries(
        st.sampled_from(
            [
                "NodeName",
                "Gres",
                "GresUsed",
                "AllocTRES",
                "CPUTot",
                "State",
                "Partitions",
                "RealMemory",
            ]
        ),
        SLURMISH,
    )
)
def test_node_records(kv):
    try:
        parsers.parse_node(kv)
    except ValueError:
        pass


@given(st.text(), st.integers(min_value=-1, max_value=300))
def test_failure_classification_never_crashes(stderr, code):
    assert classify_failure(["x"], code, stderr).message


@given(st.integers(min_value=0, max_value=10**9))
def test_duration_round_trip(seconds):
    assert values.parse_duration(values.format_duration(seconds)) == seconds


@given(st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2100, 1, 1)))
def test_datetime_round_trip(moment):
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    assert values.parse_datetime(text).replace(tzinfo=None) == moment


@given(
    prefix=st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z]", fullmatch=True),
    low=st.integers(min_value=0, max_value=500),
    span=st.integers(min_value=0, max_value=50),
    width=st.integers(min_value=1, max_value=4),
)
def test_nodelist_ranges_expand_with_padding(prefix, low, span, width):
    high = low + span
    expr = f"{prefix}[{low:0{width}d}-{high:0{width}d}]"
    assert values.expand_nodelist(expr) == [f"{prefix}{n:0{width}d}" for n in range(low, high + 1)]


@given(
    name=st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
    gtype=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)),
    count=st.integers(min_value=0, max_value=10**6),
)
def test_gres_round_trip(name, gtype, count):
    item = values.Gres(name, gtype, count)
    assert values.parse_gres(str(item)) == [item]
    tres = f"gres/{name}{':' + gtype if gtype else ''}={count}"
    assert values.parse_gres(tres) == [item]


@given(
    name=st.text(max_size=40).filter(lambda s: "\x1f" not in s and "\x1e" not in s),
    comment=st.text(min_size=1, max_size=40).filter(
        lambda s: "\x1f" not in s and "\x1e" not in s and values.opt(s) is not None
    ),
)
def test_squeue_record_keeps_names_and_comments_exactly(name, comment):
    record = "\x1f".join(
        [
            "7",
            name,
            "alice",
            "proja",
            "gpu",
            "normal",
            "PENDING",
            "JobHeldUser",
            "",
            "N/A",
            "2026-11-29T02:10:11",
            "N/A",
            "N/A",
            "10:00",
            comment,
            "/home/alice",
            "cpu=1,mem=500M,node=1,billing=1",
        ]
    )
    (job,), problems = parsers.parse_squeue(record + "\x1e\n")
    assert not problems
    assert (job.name, job.comment, job.state) == (name, comment.strip(), JobState.QUEUED_HELD)
    assert job.tres == "cpu=1,mem=500M,node=1,billing=1"


TRES_KEY = st.sampled_from(["cpu", "mem", "node", "billing", "gres/gpu", "gres/gpu:a100",
                            "gres/gpu:h100", "energy"])
TRES_AMOUNT = st.one_of(st.integers(min_value=0, max_value=10**6).map(str),
                        st.from_regex(r"[0-9]{1,6}(\.[0-9]{1,2})?[KMGT]", fullmatch=True))


def _squeue_row(tres: str) -> str:
    fields = ["8", "n", "bob", "projb", "gpu", "normal", "RUNNING", "None", "vm",
              "gres:gpu:a100:1", "2026-11-29T02:10:11", "2026-11-29T02:10:12",
              "2026-11-29T02:20:12", "10:00", "(null)", "/tmp", tres]
    return "\x1f".join(fields) + "\x1e\n"


@given(st.dictionaries(TRES_KEY, TRES_AMOUNT, min_size=1))
def test_squeue_tres_alloc_round_trips(tres):
    text = ",".join(f"{k}={v}" for k, v in tres.items())
    (job,), problems = parsers.parse_squeue(_squeue_row(text))
    assert not problems and job.tres == text
    assert values.parse_tres(job.tres) == tres


@given(st.one_of(st.just(""), st.sampled_from(["N/A", "(null)", "None"])))
def test_squeue_without_tres_has_none(empty):
    (job,), _ = parsers.parse_squeue(_squeue_row(empty))
    assert job.tres is None


@given(SLURMISH.filter(lambda s: "\x1f" not in s and "\x1e" not in s))
def test_squeue_bad_tres_is_a_reported_problem_not_a_crash(text):
    jobs, problems = parsers.parse_squeue(_squeue_row(text))
    assert len(jobs) + len(problems) == 1
    if jobs:
        assert jobs[0].tres is None or values.parse_tres(jobs[0].tres) is not None


@given(
    name=st.text(max_size=30),
    cpus=st.one_of(st.none(), st.integers(min_value=-2, max_value=64)),
    mem=st.one_of(st.none(), st.integers(min_value=-2, max_value=10**6), SLURMISH),
    time=st.one_of(st.none(), st.integers(min_value=-2, max_value=10**5), SLURMISH),
    dep=st.one_of(st.none(), SLURMISH),
)
def test_specs_are_valid_or_refused_and_valid_ones_give_one_line_flags(name, cpus, mem, time, dep):
    try:
        spec = JobSpec(
            script="#!/bin/sh\n",
            job_name=name or None,
            cpus=cpus,
            mem=mem,
            time=time,
            dependency=dep or None,
        )
    except ValueError:
        return
    for arg in sbatch_args(spec):
        assert arg.startswith("--") and "\n" not in arg and "\x00" not in arg
