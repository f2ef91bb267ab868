"""safe_next: only local paths survive, whatever the input (property test)."""

from hypothesis import given
from hypothesis import strategies as st

from portal.auth.redirects import safe_next

BYPASSES = [
    "///evil.com", "/\\evil.com", "//evil.com", "\\\\evil.com", "https://evil.com",
    "javascript:alert(1)", "/\t/evil.com", "/\n/evil.com", " //evil.com", "http:/evil.com",
    "/%0d%0a", None, "", "evil.com",
]


def test_classic_bypasses_are_refused():
    for target in BYPASSES[:-2]:
        assert safe_next(target) in (None, "/%0d%0a"), target
    assert safe_next("evil.com") is None


def test_local_paths_pass():
    assert safe_next("/settings/profile?tab=tokens") == "/settings/profile?tab=tokens"


@given(st.text(max_size=80))
def test_result_is_always_a_single_slash_local_path(text):
    result = safe_next(text)
    if result is not None:
        assert result.startswith("/") and not result.startswith("//")
        assert "\\" not in result and all(ord(c) >= 0x20 for c in result)
