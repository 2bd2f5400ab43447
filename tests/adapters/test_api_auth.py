"""Who may call the server API: JWTs (HS256, RS256) and the API key; what hub check says."""

from __future__ import annotations

import base64
import hashlib
import hmac

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hub.config import Config
from hub.errors import ConfigError
from hub.preflight import check_channels
from tests.adapters.api_client import (
    API_KEY,
    API_KEY_ENV,
    AUDIENCE,
    JWT_SECRET,
    JWT_SECRET_ENV,
    WEBHOOK_SECRET_ENV,
    ApiClient,
    api_config,
    token,
)
from tests.harness import make_config, running_hub

PUBLIC_KEY_ENV = "SB_TEST_API_JWT_PUBLIC_KEY"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def api_env(monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey) -> None:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    monkeypatch.setenv(JWT_SECRET_ENV, JWT_SECRET)
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    monkeypatch.setenv(PUBLIC_KEY_ENV, public.replace("\n", "\\n"))  # one-line form
    monkeypatch.delenv(WEBHOOK_SECRET_ENV, raising=False)


_CLAIMS = b'{"aud": "switchboard", "exp": 4000000000}'
_HS256_HEADER = b'{"alg": "HS256", "typ": "JWT"}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rs256(key: rsa.RSAPrivateKey, **claims: object) -> str:
    return token(secret=key, algorithm="RS256", **claims)  # type: ignore[arg-type]


async def test_rs256_and_hs256_tokens_and_the_api_key_are_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    config = api_config(jwt_public_key_env=PUBLIC_KEY_ENV)
    async with running_hub(config) as service:
        for bearer in (token(), _rs256(rsa_key), API_KEY):
            async with ApiClient.connect(service.url, bearer=bearer) as api:
                assert (await api.say("c1", "hello"))["text"] == "Hello! How can I help?"


@pytest.mark.parametrize(
    ("bearer", "code"),
    [
        ("", "missing_token"),
        (token(secret="another-secret-" + "y" * 64), "invalid_signature"),
        (token(exp_in=-60), "token_expired"),
        (token(aud="someone-else"), "invalid_audience"),
        (token(aud=None), "missing_claim"),
        (token(exp_in=None), "missing_claim"),
        (token(nbf=4_000_000_000), "token_not_yet_valid"),
        (jwt.encode({"aud": AUDIENCE, "exp": 4_000_000_000}, None, algorithm="none"),
         "unsupported_algorithm"),
        (token(secret=JWT_SECRET, algorithm="HS512"), "unsupported_algorithm"),
        ("not.a.jwt", "invalid_token"),
        ("sk-wrong-key", "invalid_token"),
    ],
)
async def test_wrong_expired_or_missing_credentials_get_401_naming_the_problem(
    bearer: str, code: str
) -> None:
    async with running_hub(api_config()) as service:
        async with ApiClient.connect(service.url, bearer=bearer) as api:
            if not bearer:
                api.bearer = None
            for status, body in (await api.post("c2", {"text": "hello"}), await api.get("c2")):
                assert (status, body["error"]["code"]) == (401, code), body
        async with ApiClient.connect(service.url) as good:  # the hub keeps serving
            assert (await good.say("c2", "hello"))["text"] == "Hello! How can I help?"
            status, _ = await good.get("c2")
            assert status == 200


async def test_an_hs256_token_cannot_use_the_rs256_public_key_as_its_secret(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """The classic algorithm confusion: each algorithm has its own key."""
    config = api_config(jwt_public_key_env=PUBLIC_KEY_ENV, jwt_secret_env="", api_key_env="")
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64(_HS256_HEADER)}.{_b64(_CLAIMS)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64(mac)}"
    async with running_hub(config) as service:
        async with ApiClient.connect(service.url, bearer=forged) as api:
            status, body = await api.post("c3", {"text": "hello"})
    assert (status, body["error"]["code"]) == (401, "unsupported_algorithm")


async def test_no_credentials_configured_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(channels={"api": {"enabled": True}})
    assert "channels.api" in str(caught.value) and "jwt_secret_env" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config(channels={"api": {"enabled": True, "api_key_env": "not a name"}})
    assert "channels.api.api_key_env" in str(caught.value)


def test_hub_check_names_the_unset_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JWT_SECRET_ENV)
    config = api_config()
    problems = list(check_channels(config))
    errors = [p for p in problems if p.level == "error"]
    assert [(p.key, p.message) for p in errors] == [
        ("channels.api.jwt_secret_env", f"environment variable {JWT_SECRET_ENV} is not set")]
    [warning] = [p for p in problems if p.level == "warning"]
    assert warning.key == "channels.api.webhook_secret_env"


def test_hub_check_refuses_a_public_key_that_is_not_pem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PUBLIC_KEY_ENV, "not a key")
    config: Config = api_config(jwt_public_key_env=PUBLIC_KEY_ENV)
    [problem] = [p for p in check_channels(config) if p.level == "error"]
    assert problem.key == "channels.api.jwt_public_key_env" and "PEM" in problem.message


async def test_hub_run_refuses_to_start_without_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV)
    with pytest.raises(ConfigError, match="channels.api.api_key_env"):
        async with running_hub(api_config()):
            pass
