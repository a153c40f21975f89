"""Regression tests for defects found by attacking the daemon: the e2e fixtures, shared."""
import importlib.util
import os
import sys

_E2E = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _E2E)
_spec = importlib.util.spec_from_file_location("e2e_conftest", os.path.join(_E2E, "conftest.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

make_daemon = _e2e.make_daemon
daemon = _e2e.daemon
origin = _e2e.origin
make_proxy = _e2e.make_proxy
