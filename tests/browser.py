"""Playwright in Debian's Chromium, for the tests that drive a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

__all__ = ["CHROMIUM", "chromium"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A launched browser; skipped without Chromium, except under CI where it must exist."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI (make test installs it)")
        pytest.skip("no chromium; run `make browser`")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
