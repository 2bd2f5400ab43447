"""The console's safety, through a plain HTTP client against a running hub.

Routes are enumerated from the mounted app, so a new route cannot escape these tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from console.app import PREFIX
from hub.service import HubService
from tests.console.admin import console_config, http_client, sign_in, signed_in
from tests.harness import make_config, running_hub

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/{name}")}
# POSTs a viewer may make: signing out, and the dry run (it changes nothing).
VIEWER_POSTS = {"/logout", "/try"}


def console_routes(service: HubService) -> Iterator[tuple[str, str, object]]:
    """(method, path relative to /admin, handler) of every console route."""
    assert service.app is not None
    for resource in service.app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == PREFIX:
            for route in resource._app.router.routes():
                if route.method != "HEAD":
                    yield route.method, route.resource.canonical.removeprefix(PREFIX), route.handler
            return
    raise AssertionError("the console is not mounted")


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_console_is_off_without_users() -> None:
    async with running_hub(make_config()) as hub, aiohttp.ClientSession() as http:
        for path in ("/admin", "/admin/", "/admin/login", "/admin/conversations"):
            async with http.get(hub.url + path, allow_redirects=False) as response:
                assert response.status == 404, path


async def test_every_route_needs_a_session() -> None:
    async with running_hub(console_config()) as hub, http_client() as http:
        routes = list(console_routes(hub))
        assert {(m, p) for m, p, h in routes if getattr(h, "console_public", False)} == PUBLIC
        guarded = [(m, p) for m, p, h in routes if (m, p) not in PUBLIC]
        assert len(guarded) >= 10
        for method, path in guarded:
            url = hub.url + PREFIX + concrete(path)
            async with http.request(method, url, allow_redirects=False,
                                    headers={"Accept": "text/html"}) as page:
                assert page.status == 302, (method, path)
                assert page.headers["Location"] == f"{PREFIX}/login"
            async with http.request(method, url, allow_redirects=False,
                                    headers={"X-Requested-With": "XMLHttpRequest"}) as xhr:
                assert xhr.status == 401, (method, path)


async def test_every_post_needs_the_csrf_token() -> None:
    async with running_hub(console_config()) as hub, signed_in(hub.url) as (http, csrf):
        posts = [p for m, p, _ in console_routes(hub) if m == "POST"]
        for path in posts:
            url = hub.url + PREFIX + concrete(path)
            async with http.post(url, data={"entry": "x"}, allow_redirects=False) as response:
                assert response.status == 403, path
            async with http.post(url, data={"csrf": "forged"}, allow_redirects=False) as response:
                assert response.status == 403, path
        # the session is still good: the right token passes
        async with http.post(hub.url + "/admin/try", data={"csrf": csrf, "text": "hi"}) as ok:
            assert ok.status == 200


async def test_login_form_needs_its_csrf_token() -> None:
    async with running_hub(console_config()) as hub, http_client() as http:
        form = {"name": "ops", "password": "correct horse battery"}
        async with http.post(hub.url + "/admin/login", data=form, allow_redirects=False) as r:
            assert r.status == 403
        assert "sb_admin" not in {c.key for c in http.cookie_jar}


async def test_viewer_cannot_write() -> None:
    async with running_hub(console_config()) as hub, signed_in(hub.url, "watcher") as (http, csrf):
        writers = {p for m, p, h in console_routes(hub) if getattr(h, "console_writes", False)}
        posts = {p for m, p, _ in console_routes(hub) if m == "POST"} - {"/login"}
        assert writers == posts - VIEWER_POSTS  # a new POST route writes unless said otherwise
        for path in sorted(writers):
            form = {"csrf": csrf, "channel": "webchat", "user": "u1", "entry": "x", "question": "q"}
            async with http.post(hub.url + PREFIX + concrete(path), data=form,
                                 allow_redirects=False) as response:
                assert response.status == 403, path
        async with http.get(hub.url + "/admin/numbers") as page:  # reading is fine
            assert page.status == 200


async def test_session_cookie_flags_and_secure_behind_a_trusted_proxy() -> None:
    config = console_config(server={"host": "127.0.0.1", "port": 0,
                                    "trusted_proxies": ["127.0.0.1"]})
    async with running_hub(config) as hub, http_client() as http:
        response = await sign_in(http, hub.url, "ops")
        cookie = response.headers.getall("Set-Cookie")
        session = next(c for c in cookie if c.startswith("sb_admin="))
        assert "HttpOnly" in session and "SameSite=Strict" in session
        assert "Secure" not in session  # plain HTTP from the proxy's point of view
        async with http_client() as behind:
            async with behind.get(hub.url + "/admin/login",
                                  headers={"X-Forwarded-Proto": "https"}) as page:
                assert "Secure" in page.headers["Set-Cookie"]


async def test_forwarded_proto_from_an_untrusted_peer_is_ignored() -> None:
    async with running_hub(console_config()) as hub, http_client() as http:
        async with http.get(hub.url + "/admin/login", headers={"X-Forwarded-Proto": "https"}) as page:
            assert "Secure" not in page.headers["Set-Cookie"]
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_wrong_password_is_refused_then_rate_limited() -> None:
    config = console_config(admin={"users": [
        {"name": "ops", "password_hash_env": "TEST_ADMIN_OPS_HASH"}], "login_attempts_per_min": 3})
    async with running_hub(config) as hub, http_client() as http:
        statuses = [(await sign_in(http, hub.url, "ops", "wrong")).status for _ in range(3)]
        assert statuses == [401, 401, 401]
        # the right password, too soon after: still refused, without checking it
        assert (await sign_in(http, hub.url, "ops")).status == 429
        log = await hub.hub.store.audit_log(limit=10)
        assert [r.action for r in log][:4] == ["sign-in refused"] + ["sign-in failed"] * 3


async def test_signed_out_session_is_dead(tmp_path: pytest.TempPathFactory) -> None:
    async with running_hub(console_config()) as hub, signed_in(hub.url) as (http, csrf):
        async with http.post(hub.url + "/admin/logout", data={"csrf": csrf},
                             allow_redirects=False) as out:
            assert out.status == 302
        async with http.get(hub.url + "/admin/numbers", allow_redirects=False) as page:
            assert page.status == 302
