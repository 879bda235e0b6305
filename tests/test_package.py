"""Package metadata and the ``python -m jaxnn`` entry point (issue 21)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tomllib

import jaxnn
from jaxnn.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_license_file_matches_the_declared_licence():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "License :: OSI Approved :: Apache Software License" in project["classifiers"]
    assert project["version"] == jaxnn.__version__


def test_version_flag_in_a_fresh_process_and_the_eager_checks_env_var():
    """``python -m jaxnn --version`` prints the version; ``JAXNN_EAGER_CHECKS=0`` turns the eager checks off."""
    env = {**os.environ, "JAXNN_EAGER_CHECKS": "0", "PYTHONPATH": str(ROOT)}
    code = "import runpy, sys, jaxnn.checks as c; print(c.eager_enabled()); sys.argv = ['jaxnn', '--version']; runpy.run_module('jaxnn', run_name='__main__')"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "jaxnn", jaxnn.__version__]


def test_self_check(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert f"jaxnn {jaxnn.__version__}" in out and "self-check ok" in out
