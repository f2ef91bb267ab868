"""Property tests of sacctmgr's notations: parsers never fail but with ValueError, and
what the adapter formats, the parsers read back unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.accounts_values import (
    ASSOC_FIELDS,
    check_name,
    clean_text,
    format_minutes,
    format_tres,
    parse_accounts,
    parse_associations,
    parse_qos,
    parse_tres,
    tres_update,
)
from adapters.scheduler.values import parse_minutes

TRES_KEYS = st.sampled_from(["cpu", "mem", "gres/gpu", "gres/gpu:a100", "gres/gpu:v100",
                             "node", "billing"])
TRES = st.dictionaries(TRES_KEYS, st.integers(0, 10**9), min_size=1)


@given(TRES)
def test_formatted_tres_reads_back(tres):
    assert parse_tres(format_tres(tres)) == tres


@given(st.dictionaries(TRES_KEYS, st.none() | st.integers(0, 99), min_size=1))
def test_none_clears_a_tres_with_minus_one(tres):
    text = format_tres(tres)
    for key, value in tres.items():
        assert (f"{key}=-1" in text.split(",")) is (value is None)


@given(st.integers(0, 400 * 24 * 60))
def test_minutes_round_trip_through_slurms_time_notation(minutes):
    assert parse_minutes(format_minutes(minutes)) == minutes


@given(st.text(max_size=300))
def test_parsers_fail_only_with_value_error(text):
    for parse in (parse_tres, parse_associations, parse_qos, parse_accounts):
        try:
            parse(text)
        except ValueError:
            pass


@given(st.text(max_size=80))
def test_check_name_admits_only_names_sacctmgr_keeps(name):
    try:
        assert check_name(name) == name
    except ValueError:
        return
    assert name == name.lower() and name.isascii() and not set(name) & set(" ,=!'\"|")


@given(st.text(max_size=300))
def test_descriptions_never_break_parsable_output(text):
    cleaned = clean_text(text)
    assert cleaned and "|" not in cleaned and "\n" not in cleaned and len(cleaned) <= 200
    assert "'" not in cleaned and '"' not in cleaned


@given(st.dictionaries(TRES_KEYS, st.integers(0, 9)), st.dictionaries(TRES_KEYS,
                                                                       st.integers(0, 9)))
def test_tres_update_sets_exactly_the_wanted_tres(current, wanted):
    update = tres_update(current, wanted)
    after = {**current, **{k: v for k, v in update.items() if v is not None}}
    for key in [k for k, v in update.items() if v is None]:
        after.pop(key)
    assert after == wanted


def test_an_association_line_with_a_missing_field_is_refused():
    with pytest.raises(ValueError):
        parse_associations("|".join(["x"] * (len(ASSOC_FIELDS) - 1)))


def test_memory_units_become_megabytes():
    assert parse_tres("mem=8G,cpu=2") == {"mem": 8192, "cpu": 2}
    assert parse_tres("mem=1T") == {"mem": 1024 * 1024}
    with pytest.raises(ValueError):
        parse_tres("cpu=2G")
