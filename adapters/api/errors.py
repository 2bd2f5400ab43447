"""Errors of the server API: each is an HTTP status and a code for the JSON body.

    ApiError          (4xx/5xx, ``{"error": {"code", "message"}}``)
     └── AuthError    (401, with ``WWW-Authenticate: Bearer``)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.errors import HubError

__all__ = ["ApiError", "AuthError"]


class ApiError(HubError):
    """A request the API refuses; :meth:`response` is what the client gets."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str]:
        return {}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers())


class AuthError(ApiError):
    """No credentials, or ones the API does not accept (wrong, expired, other audience)."""

    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{self.code}"'}
