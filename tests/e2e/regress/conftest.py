"""Regression tests for defects found by attacking the daemon: the e2e fixtures and hooks
(tests/e2e/conftest.py), shared. pytest's rootdir is this directory when meson runs a file
here, so the parent conftest is loaded by path and everything it defines re-exported."""
import importlib.util
import os
import sys

_E2E = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _E2E)
_spec = importlib.util.spec_from_file_location("e2e_conftest", os.path.join(_E2E, "conftest.py"))
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
globals().update({k: v for k, v in vars(_e2e).items() if not k.startswith("_")})
