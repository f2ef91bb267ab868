"""Reading a job's log: tail, increments at character boundaries, HTTP ranges."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.runner import CommandRunner
from adapters.userfiles import UserFiles, check_path
from portal.services.joblog import RangeNotSatisfiable, _utf8_end, _utf8_start, parse_range


@pytest.mark.parametrize("header,size,expected", [
    (None, 100, None), ("bytes=0-9", 100, (0, 9)), ("bytes=90-", 100, (90, 99)),
    ("bytes=-10", 100, (90, 99)), ("bytes=-1000", 100, (0, 99)), ("bytes=5-500", 100, (5, 99)),
    ("items=0-1", 100, None), ("bytes=0-1,5-6", 100, None), ("bytes=-", 100, None),
])
def test_ranges(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header,size", [("bytes=100-", 100), ("bytes=9-3", 100),
                                         ("bytes=-0", 100), ("bytes=0-", 0)])
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@given(st.text(max_size=40), st.integers(min_value=0, max_value=10**9))
def test_range_parser_never_crashes_and_stays_inside_the_file(header, size):
    try:
        result = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        first, last = result
        assert 0 <= first <= last < size


@given(st.text(max_size=50), st.integers(min_value=0, max_value=200))
def test_utf8_cuts_fall_on_character_boundaries(text, cut):
    data = text.encode("utf-8")[:cut]
    data.decode("utf-8", errors="strict") if _utf8_end(data) == len(data) else None
    data[:_utf8_end(data)].decode("utf-8")
    tail = text.encode("utf-8")[cut:]
    tail[_utf8_start(tail):].decode("utf-8")


def test_userfiles_write_size_and_ranges_with_real_coreutils(tmp_path):
    files = UserFiles(CommandRunner(run_as_prefix=[]))
    directory = str(tmp_path / "job")
    files.make_dirs("root", directory)
    path = directory + "/out.log"
    assert files.size("root", path) is None
    files.write("root", path, "héllo wörld\n".encode())
    assert files.size("root", path) == 14
    assert files.read_range("root", path, 1, 4) == "éll".encode()
    assert b"".join(files.stream_range("root", path, 7)) == "wörld\n".encode()
    assert b"".join(files.stream_range("root", path, 0, 3)) == b"h\xc3\xa9"
    files.remove_tree("root", directory)
    assert not (tmp_path / "job").exists()


@pytest.mark.parametrize("path", ["relative", "/a/../b", "/x", "/a/b\n", "/a//b"])
def test_userfiles_refuse_odd_paths(path):
    with pytest.raises(ValueError):
        check_path(path)


def test_userfiles_kinds_and_nofollow_with_real_coreutils(tmp_path):
    """Issue #12 finding 10: `kinds` does not follow a final symlink; `nofollow` reads
    refuse one (O_NOFOLLOW) instead of reading what it points to."""
    from adapters.errors import CommandFailed

    files = UserFiles(CommandRunner(run_as_prefix=[]))
    (tmp_path / "job").mkdir()
    (tmp_path / "other.txt").write_text("not the log\n")
    log = tmp_path / "job" / "out.log"
    log.symlink_to(tmp_path / "other.txt")
    found = files.kinds("root", [str(tmp_path / "job"), str(log), str(tmp_path / "nope" / "x")])
    assert found == {str(tmp_path / "job"): ("directory", found[str(tmp_path / "job")][1]),
                     str(log): ("symbolic link", len(str(tmp_path / "other.txt")))}
    with pytest.raises(CommandFailed):
        files.read_range("root", str(log), 0, 5, nofollow=True)
    assert files.read_range("root", str(log), 0, 3) == b"not"  # the default still follows
    assert b"".join(files.stream_range("root", str(log), nofollow=True)) == b""
