"""Who may call the API: a bearer JWT (HS256 or RS256, ``aud`` and ``exp`` required)
or a static API key, both read from the environment variables ``[channels.api]`` names."""

from __future__ import annotations

import hmac
import logging

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from adapters.api.errors import AuthError
from hub.config import ApiConfig, Config, secret
from hub.errors import ConfigError, ConfigProblem

__all__ = ["Authenticator", "secret_problems"]

logger = logging.getLogger(__name__)

LEEWAY_S = 5  # clock skew allowed on exp/nbf/iat
SECRET_KEYS = ("jwt_secret_env", "jwt_public_key_env", "api_key_env")


class Authenticator:
    """Checks an ``Authorization`` header; :meth:`check` returns who called, or raises AuthError.

    Each algorithm has its own key (HS256 the shared secret, RS256 the public
    key), so a token can never pick the key it is checked with.
    """

    def __init__(self, config: ApiConfig, *, hs256: str | None, rs256: str | None,
                 api_key: str | None) -> None:
        self.audience = config.jwt_audience
        self._keys = {alg: key for alg, key in (("HS256", hs256), ("RS256", rs256)) if key}
        self._api_key = api_key

    @classmethod
    def from_config(cls, config: Config) -> Authenticator:
        """Read the secrets; a ConfigError naming the key for one that is unset or unusable."""
        problems = secret_problems(config)
        errors = [p for p in problems if p.level == "error"]
        if errors:
            raise ConfigError(errors)
        section = config.channels.api
        return cls(section, hs256=secret(section.jwt_secret_env),
                   rs256=_pem(secret(section.jwt_public_key_env)),
                   api_key=secret(section.api_key_env))

    def check(self, header: str | None) -> str:
        if not header:
            raise AuthError("missing_token", "send Authorization: Bearer <token>")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("missing_token", "the Authorization header must be 'Bearer <token>'")
        if self._api_key is not None and hmac.compare_digest(token.encode(), self._api_key.encode()):
            return "api-key"
        if not self._keys or token.count(".") != 2:
            raise AuthError("invalid_token", "the bearer token is neither the API key nor a JWT")
        return self._jwt(token)

    def _jwt(self, token: str) -> str:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError:
            raise AuthError("invalid_token", "the bearer token is not a readable JWT") from None
        key = self._keys.get(str(algorithm))
        if key is None:
            accepted = ", ".join(sorted(self._keys))
            raise AuthError("unsupported_algorithm",
                            f"tokens signed with {algorithm} are not accepted (only {accepted})")
        try:
            claims = jwt.decode(token, key, algorithms=[str(algorithm)], audience=self.audience,
                                options={"require": ["exp", "aud"]}, leeway=LEEWAY_S)
        except jwt.ExpiredSignatureError:
            raise AuthError("token_expired", "the token has expired (exp)") from None
        except jwt.InvalidAudienceError:
            raise AuthError("invalid_audience", f"the token's aud is not {self.audience!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("missing_claim", f"the token has no {exc.claim!r} claim") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token_not_yet_valid", "the token is not valid yet (nbf/iat)") from None
        except jwt.InvalidSignatureError:
            raise AuthError("invalid_signature", "the token's signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", f"the token is not valid: {type(exc).__name__}") from None
        return str(claims.get("sub") or "jwt")


def _pem(value: str | None) -> str | None:
    """A PEM from an environment variable (``\\n`` escapes allowed: one-line variables)."""
    return value.replace("\\n", "\n") if value else None


def secret_problems(config: Config) -> list[ConfigProblem]:
    """What :meth:`Authenticator.from_config` would refuse (errors), and an unset webhook
    secret (a warning: webhooks are then refused), for ``hub check`` and ``hub run``."""
    section, file = config.channels.api, str(config.source or "config.toml")
    problems: list[ConfigProblem] = []
    for key in SECRET_KEYS:
        env_name = getattr(section, key)
        if env_name and secret(env_name) is None:
            problems.append(ConfigProblem(file, f"channels.api.{key}",
                                          f"environment variable {env_name} is not set"))
    public_key = _pem(secret(section.jwt_public_key_env))
    if public_key is not None:
        try:
            load_pem_public_key(public_key.encode())
        except (ValueError, UnsupportedAlgorithm):
            problems.append(ConfigProblem(
                file, "channels.api.jwt_public_key_env",
                f"${section.jwt_public_key_env} is not a PEM public key (-----BEGIN PUBLIC KEY-----)"))
    if section.webhook_secret_env and secret(section.webhook_secret_env) is None:
        problems.append(ConfigProblem(
            file, "channels.api.webhook_secret_env",
            f"environment variable {section.webhook_secret_env} is not set; requests with a "
            "webhook_url are refused", level="warning"))
    return problems
