"""pyproject.toml: installs without setuptools' deprecation warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_license_is_an_spdx_string_and_the_backend_understands_it() -> None:
    # A {text = ...} table makes setuptools >= 77 warn on every install (PEP 639).
    assert isinstance(PYPROJECT["project"]["license"], str)
    required = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    minimum = re.search(r">=\s*(\d+)", required)
    assert minimum is not None and int(minimum.group(1)) >= 77
