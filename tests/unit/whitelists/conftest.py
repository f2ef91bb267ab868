from tests.unit.keys.netsec_support import all_logs, bearer, ursula  # noqa: F401
