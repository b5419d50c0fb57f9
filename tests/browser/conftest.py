"""Browser tests drive Debian's chromium (never a browser Playwright downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


# Session scope: set up before the modules' servers and browsers, which would otherwise fail to
# launch first and turn the skip into an error.
@pytest.fixture(scope="session", autouse=True)
def _chromium_is_installed() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run every test
    pytest.skip(message)
