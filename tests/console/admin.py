"""Console test helpers: accounts in the environment, a signed-in HTTP client."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from console import hash_password
from hub.config import Config
from tests.harness import make_config

PASSWORDS = {"ops": "correct horse battery", "watcher": "viewer password 1"}
USERS = [
    {"name": "ops", "password_hash_env": "TEST_ADMIN_OPS_HASH", "role": "admin"},
    {"name": "watcher", "password_hash_env": "TEST_ADMIN_VIEWER_HASH", "role": "viewer"},
]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@functools.cache
def hashes() -> dict[str, str]:
    return {
        "TEST_ADMIN_OPS_HASH": hash_password(PASSWORDS["ops"]),
        "TEST_ADMIN_VIEWER_HASH": hash_password(PASSWORDS["watcher"]),
    }


def console_config(data: Mapping[str, Any] | None = None, **sections: Any) -> Config:
    """``make_config`` with the two test accounts (set ``admin_env`` first)."""
    merged = dict(data or {})
    merged.setdefault("admin", {"users": USERS})
    return make_config(merged, **sections)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@asynccontextmanager
async def http_client() -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        yield http


async def sign_in(http: aiohttp.ClientSession, base: str, name: str, password: str | None = None
                  ) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/admin/login") as page:
        token = csrf_of(await page.text())
    form = {"csrf": token, "name": name, "password": password or PASSWORDS[name]}
    async with http.post(f"{base}/admin/login", data=form, allow_redirects=False) as response:
        await response.read()
        return response


@asynccontextmanager
async def signed_in(base: str, name: str = "ops") -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """A client signed in as ``name``, and the session's CSRF token."""
    async with http_client() as http:
        response = await sign_in(http, base, name)
        assert response.status == 302, response.status
        async with http.get(f"{base}/admin/try") as page:
            yield http, csrf_of(await page.text())
