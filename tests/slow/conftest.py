"""The slow tests reuse the end-to-end suite's Server class (tests/e2e/conftest.py).

It is loaded under the name vmsvc_e2e: a plain `import conftest` here would
find this file instead."""
import importlib.util
import os
import sys

_E2E = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e", "conftest.py")
if "vmsvc_e2e" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("vmsvc_e2e", _E2E)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["vmsvc_e2e"] = _mod
    _spec.loader.exec_module(_mod)

import pytest


@pytest.fixture(scope="session")
def timings(request):
    """(what, seconds) pairs a test measured, printed at the end of the run."""
    request.config._vmsvc_timings = []
    return request.config._vmsvc_timings


def pytest_terminal_summary(terminalreporter, config):
    for what, secs in getattr(config, "_vmsvc_timings", []):
        terminalreporter.write_line("timing: %-40s %6.1f s" % (what, secs))
