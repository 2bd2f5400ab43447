"""config.toml: the admins' interface, read and checked once into frozen objects.

``load_config(path)`` parses and validates the file; ``Config.from_mapping``
does the same for a mapping (tests build configs in memory). Every fault is a
:class:`~hub.errors.ConfigProblem` naming the file, the key path and, where it
can be found, the line. Secrets never live here: sections name environment
variables (``token_env = "..."``) and :func:`secret` reads them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.config import ActionConfig, FlowsConfig
from hub.errors import ConfigError, ConfigProblem
from hub.messages import MessagesConfig

__all__ = [
    "AdminConfig",
    "AdminUserConfig",
    "ApiConfig",
    "ButtonConfig",
    "ClusterConfig",
    "Config",
    "EXPERIMENT_METRICS",
    "OVERRIDABLE",
    "ExperimentConfig",
    "FeedbackConfig",
    "GreetingConfig",
    "HandoffConfig",
    "KBConfig",
    "LLMConfig",
    "LLMModelConfig",
    "LLMTierConfig",
    "MessagesConfig",
    "PrivacyConfig",
    "RuleConfig",
    "ServerConfig",
    "SlackConfig",
    "StoreConfig",
    "TelegramConfig",
    "VariantConfig",
    "WebchatConfig",
    "apply_overrides",
    "load_config",
    "missing_secret",
    "required_secret",
    "secret",
]


class Section(BaseModel):
    """Base for every config table: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # A request's line and headers must arrive within this many seconds of the connection
    # (or of the previous response); an idle keep-alive connection is closed after it too.
    header_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0  # a request body, once headed
    max_connections: Annotated[int, Field(ge=1)] = 10_000  # WebSockets per process; past it 1013
    max_connections_per_ip: Annotated[int, Field(ge=1)] = 50  # WebSockets of one client address
    # Proxies whose X-Forwarded-For is believed (addresses or networks, "10.0.0.0/8").
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {proxy!r}") from None
        return proxies


class StoreConfig(Section):
    url: str = "memory://"
    transcript_max: Annotated[int, Field(ge=1)] = 200
    dedupe_ttl_s: Annotated[int, Field(ge=600)] = 900
    pool_size: Annotated[int, Field(ge=4, le=10_000)] = 64  # Redis connections per process
    pool_timeout_s: Annotated[float, Field(gt=0)] = 5.0  # wait this long for a free one

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise ValueError('expected "memory://" or a "redis://..." URL')
        return url


class ClusterConfig(Section):
    """The durable ingress: partitions, their leases, draining and poison messages."""

    partitions: Annotated[int, Field(ge=1, le=1024)] = 64
    lease_s: Annotated[float, Field(ge=1, le=300)] = 10.0
    drain_s: Annotated[float, Field(ge=0, le=600)] = 10.0
    max_deliveries: Annotated[int, Field(ge=1, le=100)] = 3


class LogConfig(Section):
    """``format``: "text" (one readable line) or "json" (one JSON object a line)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class ButtonConfig(Section):
    label: Annotated[str, Field(min_length=1)]
    value: Annotated[str, Field(min_length=1)]


class GreetingConfig(Section):
    """What a new webchat session is greeted with; empty text means no greeting."""

    text: str = ""
    buttons: tuple[ButtonConfig, ...] = ()

    @model_validator(mode="after")
    def _buttons_need_text(self) -> GreetingConfig:
        if self.buttons and not self.text.strip():
            raise ValueError("greeting buttons need a greeting text")
        return self


_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
_CSP_SOURCE = re.compile(r"^[^\s;,]+$")
DAY_S = 86_400


class WebchatConfig(Section):
    enabled: bool = True
    title: str = "Switchboard support"
    max_chars: Annotated[int, Field(ge=1)] = 4000
    rate_limit_burst: Annotated[int, Field(ge=1)] = 20  # messages of one session at once...
    rate_limit_per_s: Annotated[float, Field(gt=0)] = 5.0  # ...refilled at this rate
    rate_limit_per_ip_burst: Annotated[int, Field(ge=1)] = 200  # of all sessions of one address
    rate_limit_per_ip_per_s: Annotated[float, Field(gt=0)] = 50.0
    hellos_per_ip_per_min: Annotated[int, Field(ge=1)] = 60  # new and resumed sessions
    heartbeat_s: Annotated[float, Field(gt=0, le=3600)] = 30.0  # ping; no pong in half: dropped
    session_ttl_s: Annotated[float, Field(gt=0)] = 30 * DAY_S  # sliding: each welcome renews
    # Pages that may open /ws ("https://shop.example"); empty: the hub's own page only.
    allowed_origins: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = ("'self'",)  # CSP: who may embed the page in a frame
    secret_env: str = "WEBCHAT_SECRET"
    greeting: GreetingConfig = GreetingConfig()

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if not _ORIGIN.match(origin):
                raise ValueError(f'expected an origin like "https://shop.example", got {origin!r}')
        return tuple(o.lower() for o in origins)

    @field_validator("frame_ancestors")
    @classmethod
    def _csp_sources(cls, sources: tuple[str, ...]) -> tuple[str, ...]:
        for source in sources:
            if not _CSP_SOURCE.match(source):
                raise ValueError(f"not a CSP source expression: {source!r}")
        if not sources:
            raise ValueError("""at least one source; "'none'" forbids every frame""")
        return sources

    @field_validator("greeting", mode="before")
    @classmethod
    def _greeting_text_alone(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value  # greeting = "Hi!"


class TelegramConfig(Section):
    enabled: bool = False
    token_env: str = "TELEGRAM_BOT_TOKEN"
    mode: Literal["polling", "webhook"] = "polling"
    api_base: str = "https://api.telegram.org"
    webhook_url: str = ""
    webhook_path: str = "/telegram/webhook"
    secret_token_env: str = "TELEGRAM_WEBHOOK_SECRET"
    per_chat_per_s: Annotated[float, Field(gt=0)] = 1.0
    global_per_s: Annotated[float, Field(gt=0)] = 30.0
    poll_timeout_s: Annotated[int, Field(ge=0, le=50)] = 25
    max_send_attempts: Annotated[int, Field(ge=1, le=20)] = 5

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.enabled and self.mode == "webhook" and not self.webhook_url:
            raise ValueError('mode = "webhook" needs webhook_url')
        return self


class SlackConfig(Section):
    enabled: bool = False
    bot_token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    app_token_env: str = "SLACK_APP_TOKEN"
    mode: Literal["events", "socket"] = "events"
    api_base: str = "https://slack.com/api/"
    events_path: str = "/slack/events"
    channels: tuple[str, ...] = ()
    thread_replies: bool = True


class ApiConfig(Section):
    """The server API (adapters/api/, docs/api.md): a shop's own app or backend as a channel."""

    enabled: bool = False
    jwt_secret_env: str = ""  # HS256: the shared secret's variable
    jwt_public_key_env: str = ""  # RS256: the variable holding the issuer's public key (PEM)
    jwt_audience: str = "switchboard"
    api_key_env: str = ""  # a static key sent as the bearer token
    max_chars: Annotated[int, Field(ge=1, le=100_000)] = 4000
    reply_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    webhook_secret_env: str = "API_WEBHOOK_SECRET"
    webhook_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    webhook_backoff_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    webhook_timeout_s: Annotated[float, Field(gt=0, le=60)] = 10.0

    @field_validator("jwt_secret_env", "jwt_public_key_env", "api_key_env", "webhook_secret_env")
    @classmethod
    def _env_name(cls, name: str) -> str:
        if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"expected the name of an environment variable, got {name!r}")
        return name

    @model_validator(mode="after")
    def _some_auth(self) -> ApiConfig:
        if self.enabled and not (self.jwt_secret_env or self.jwt_public_key_env or self.api_key_env):
            raise ValueError(
                "enabled = true needs jwt_secret_env, jwt_public_key_env or api_key_env"
            )
        if (self.jwt_secret_env or self.jwt_public_key_env) and not self.jwt_audience.strip():
            raise ValueError("jwt_audience must not be empty when JWTs are accepted")
        return self


class ChannelsConfig(Section):
    webchat: WebchatConfig = WebchatConfig()
    telegram: TelegramConfig = TelegramConfig()
    slack: SlackConfig = SlackConfig()
    api: ApiConfig = ApiConfig()


RuleAction = Literal["reply", "handoff", "tag", "route", "flow"]


class RuleConfig(Section):
    name: Annotated[str, Field(min_length=1)]
    keywords: tuple[str, ...] = ()
    pattern: str | None = None
    channels: tuple[str, ...] = ()
    priority: int = 0
    action: RuleAction
    text: str = ""
    buttons: tuple[ButtonConfig, ...] = ()
    queue: str = ""
    tags: tuple[str, ...] = ()
    tier: str = ""
    flow: str = ""
    lang: tuple[str, ...] = ()  # only messages in these languages ([languages], hub/language.py); () = any

    @field_validator("lang", mode="before")
    @classmethod
    def _one_or_more_languages(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("lang")
    @classmethod
    def _known_languages(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        from hub.language import SUPPORTED_CODES

        unknown = [code for code in codes if code.split("-")[0].lower() not in SUPPORTED_CODES]
        if unknown:
            raise ValueError(f"unknown language code(s) {unknown}; use ISO 639-1 codes like \"zh\"")
        return tuple(code.lower() for code in codes)

    @field_validator("pattern")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _action_has_its_fields(self) -> RuleConfig:
        if not self.keywords and not self.pattern:
            raise ValueError("a rule needs keywords or a pattern")
        if self.action == "reply" and not self.text.strip():
            raise ValueError('action = "reply" needs text')
        if self.action == "tag" and not self.tags:
            raise ValueError('action = "tag" needs tags')
        if self.action == "route" and not self.tier:
            raise ValueError('action = "route" needs tier')
        if self.action == "flow" and not self.flow:
            raise ValueError('action = "flow" needs flow (a [[flows.list]] name)')
        return self


WELCOME_PATTERN = r"^/(start|help)\b"  # Telegram's Start button, /help ("/start@bot" in groups)
DEFAULT_RULES = (
    RuleConfig(
        name="welcome",
        pattern=WELCOME_PATTERN,
        priority=30,
        action="reply",
        text="Welcome! Ask me your question in your own words and I'll do my best to help.",
    ),
)


class KBConfig(Section):
    enabled: bool = True
    path: str = "kb/faq.toml"
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.37
    candidates: Annotated[int, Field(ge=1, le=10)] = 3
    # Help-center articles (kb/documents/): globs relative to the config file.
    documents: tuple[Annotated[str, Field(min_length=1)], ...] = ("kb/help/*.md",)
    documents_base_url: str = ""
    documents_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75


class LLMModelConfig(Section):
    model: Annotated[str, Field(min_length=1)]
    api_base: str | None = None
    api_key_env: str | None = None
    input_cost_per_token: Annotated[float, Field(ge=0)] | None = None
    output_cost_per_token: Annotated[float, Field(ge=0)] | None = None


class LLMTierConfig(Section):
    name: Annotated[str, Field(min_length=1)]
    max_score: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    max_concurrency: Annotated[int, Field(ge=1, le=10_000)] = 64  # provider calls at once
    models: tuple[LLMModelConfig, ...] = Field(min_length=1)


DEFAULT_SYSTEM_PROMPT = (
    "You are the customer-support assistant of this company. Answer briefly and "
    "politely, only from the reference answers provided. If they do not cover the "
    "question, say you are not sure."
)


class LLMConfig(Section):
    enabled: bool = True
    fast_path: bool = True  # OpenAI-compatible deployments skip litellm's per-call machinery
    timeout_s: Annotated[float, Field(gt=0)] = 20.0
    first_token_timeout_s: Annotated[float, Field(gt=0)] = 8.0  # a streamed answer's first words
    daily_budget_usd: Annotated[float, Field(ge=0)] = 10.0
    conversation_budget_usd: Annotated[float, Field(ge=0)] = 0.5
    history_turns: Annotated[int, Field(ge=0)] = 5
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    refuse_topics: tuple[str, ...] = ("medical", "legal")
    cache_ttl_s: Annotated[int, Field(ge=0)] = 3600
    near_budget_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    max_tool_calls: Annotated[int, Field(ge=0, le=20)] = 3  # action calls per turn (flows/)
    queue_notice_s: Annotated[float, Field(gt=0)] = 3.0  # queued this long: "still working"
    still_working_s: Annotated[float, Field(gt=0)] = 4.0  # an answer pending this long: the same notice
    hold_s: Annotated[float, Field(gt=0)] = 2.0  # a newer message waits at most this behind an LLM answer
    degraded_after_failures: Annotated[int, Field(ge=1)] = 3  # failures or timeouts of a tier...
    degraded_window_s: Annotated[float, Field(gt=0)] = 60.0  # ...within this window: /healthz degraded
    tiers: tuple[LLMTierConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_tier_names(self) -> LLMConfig:
        names = [t.name for t in self.tiers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate tier names: {', '.join(dupes)}")
        return self


# A customer asks for a person when one of these phrases occurs in the message
# (whole words, any case)...
DEFAULT_REQUEST_PHRASES = (
    "talk to a person", "talk to a human", "speak to a person", "speak to a human",
    "talk with a person", "talk with a human", "speak with a person", "speak with a human",
    "chat with a person", "chat with a human", "talk to someone", "talk to somebody",
    "speak to someone", "speak to somebody", "speak with someone", "talk with someone",
    "talk to an agent", "speak to an agent", "speak with an agent", "chat with an agent",
    "talk to a representative", "speak to a representative", "talk to a manager",
    "speak to a manager", "speak to your manager", "talk to customer service",
    "speak to customer service", "talk to a real", "speak to a real", "talk to an actual",
    "real person", "real human", "actual person", "actual human", "live person", "human being",
    "human agent", "live agent", "support agent", "customer service agent",
    "customer service representative", "customer service rep", "a human please",
    "get me a human", "get me a person", "get me an agent", "get me someone",
    "connect me to", "connect me with", "transfer me to", "put me through to",
    "someone from your team",
    # the demo's other languages ([languages] supported): Chinese and French
    "人工客服", "转人工", "人工服务", "真人客服", "找人工", "联系人工",
    "parler à un conseiller", "parler à une personne", "parler à un humain",
    "parler à quelqu'un", "parler à quelqu’un", "parler avec un conseiller", "un vrai conseiller",
)
# ...or when the message is only these words with request words around them
# ("agent please", "operator!", "can I get a human", "I need someone").
DEFAULT_REQUEST_WORDS = (
    "human", "humans", "person", "people", "agent", "representative", "rep", "operator",
    "someone", "somebody", "anyone", "anybody", "manager", "supervisor", "staff", "team",
    "customer service", "customer support",
    "人工", "conseiller", "humain",
)
# [handoff] keys that moved to [messages] (old name -> new name), still read from [handoff].
MOVED_TO_MESSAGES = {
    "queue_message": "queued",
    "expected_wait": "expected_wait",
    "after_hours_message": "after_hours",
    "resolved_message": "resolved",
    "returned_message": "returned",
    "offer_button": "offer_button",
}


class HandoffConfig(Section):
    agents_channel: str = ""
    agents: tuple[str, ...] = ()
    request_phrases: tuple[str, ...] = DEFAULT_REQUEST_PHRASES
    request_words: tuple[str, ...] = DEFAULT_REQUEST_WORDS
    offer_after_failures: Annotated[int, Field(ge=1)] = 2
    note_prefix: str = "note:"
    remind_after_s: Annotated[float, Field(gt=0)] = 300.0
    transcript_lines: Annotated[int, Field(ge=0)] = 10
    sentiment: bool = False
    sentiment_threshold: Annotated[float, Field(ge=-1.0, le=0.0)] = -0.5
    business_hours: str = ""  # "09:00-17:00" in ``timezone``; empty means always staffed
    business_days: tuple[Annotated[int, Field(ge=1, le=7)], ...] = (1, 2, 3, 4, 5)
    timezone: str = "UTC"

    @field_validator("business_hours")
    @classmethod
    def _hours_range(cls, hours: str) -> str:
        if hours and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", hours):
            raise ValueError('expected "HH:MM-HH:MM", e.g. "09:00-17:00"')
        return hours

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name


class LanguagesConfig(Section):
    """``[languages]``: the languages customers are answered in (hub/language.py)."""

    supported: tuple[str, ...] = ("en",)
    default: str = "en"
    # No FAQ entry in the customer's language: answer from the default language's
    # FAQ with [messages] other_language_note ("default"), or leave it to the LLM ("llm").
    missing: Literal["default", "llm"] = "default"

    @field_validator("supported")
    @classmethod
    def _known_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        from hub.language import SUPPORTED_CODES

        if not codes:
            raise ValueError("name at least one language (ISO 639-1 code, e.g. \"en\")")
        unknown = [code for code in codes if code not in SUPPORTED_CODES]
        if unknown:
            raise ValueError(f"unknown language code(s) {unknown}; use ISO 639-1 codes like \"zh\"")
        return tuple(dict.fromkeys(codes))

    @model_validator(mode="after")
    def _default_is_supported(self) -> LanguagesConfig:
        if self.default not in self.supported:
            raise ValueError(f"default {self.default!r} is not in supported {list(self.supported)}")
        return self


class PrivacyConfig(Section):
    """How long the hub keeps what customers said."""

    retention_days: Annotated[float, Field(gt=0)] | None = None  # transcripts; None: no expiry
    mask_transcripts: bool = False  # store transcript text masked (privacy/mask.py)

    @property
    def retention_s(self) -> float | None:
        return self.retention_days * DAY_S if self.retention_days is not None else None


class AdminUserConfig(Section):
    """One console account: its password hash (argon2 or bcrypt) lives in ``$password_hash_env``."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password_hash_env: Annotated[str, Field(min_length=1)]
    role: Literal["viewer", "admin"] = "admin"


class AdminConfig(Section):
    """The operators' console at /admin (console/): off unless ``users`` names someone."""

    users: tuple[AdminUserConfig, ...] = ()
    session_ttl_s: Annotated[float, Field(gt=0, le=30 * DAY_S)] = 8 * 3600.0  # sliding
    login_attempts_per_min: Annotated[int, Field(ge=1, le=1000)] = 5  # per address and per name

    @field_validator("users")
    @classmethod
    def _unique_names(cls, users: tuple[AdminUserConfig, ...]) -> tuple[AdminUserConfig, ...]:
        names = [u.name for u in users]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate user names: {', '.join(dupes)}")
        return users

    @property
    def enabled(self) -> bool:
        return bool(self.users)


class FeedbackConfig(Section):
    """Customer ratings (feedback/): thumbs on bot answers, CSAT after a hand-off."""

    ask: Literal["all", "kb_llm", "never"] = "kb_llm"  # which answers offer 👍/👎
    csat: bool = True  # after a resolved hand-off, ask for 1-5 (webchat: and a comment)
    csat_question: str = "How did we do? Please rate this conversation from 1 (poor) to 5 (great)."
    thanks: str = "Thank you for your feedback!"


# [[experiments]] variants may override these keys only (experiments/): the per-turn
# config of a customer in the variant has them replaced.
OVERRIDABLE = (
    "kb.threshold",
    "kb.documents_threshold",
    "llm.system_prompt",
    "llm.tiers",  # the whole tier list: its models and their order
    "handoff.request_phrases",
)
EXPERIMENT_METRICS = ("deflection", "csat", "thumbs_down", "handoff", "cost")


class VariantConfig(Section):
    """One arm of an experiment: its share of customers and what it changes."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[\w.-]+$")]
    weight: Annotated[float, Field(gt=0)] = 1.0
    overrides: dict[str, Any] = {}

    @field_validator("overrides")
    @classmethod
    def _whitelisted(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(OVERRIDABLE))
        if unknown:
            allowed = ", ".join(f'"{k}"' for k in OVERRIDABLE)
            raise ValueError(f"cannot override {', '.join(map(repr, unknown))}; allowed: {allowed}")
        return overrides


class ExperimentConfig(Section):
    """``[[experiments]]``: customers split between variants, sticky by customer id."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[\w.-]+$")]
    variants: tuple[VariantConfig, ...] = Field(min_length=2)
    metric: Literal["deflection", "csat", "thumbs_down", "handoff", "cost"] = "deflection"
    enabled: bool = True

    @model_validator(mode="after")
    def _unique_variants(self) -> ExperimentConfig:
        names = [v.name for v in self.variants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate variant names: {', '.join(dupes)}")
        return self


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """``config`` with a variant's overrides in place, each section validated again
    (ValueError naming the key when a value does not fit)."""
    changed: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        changed.setdefault(section, {})[name] = value
    update = {}
    for section, values in changed.items():
        current = getattr(config, section)
        try:
            update[section] = type(current).model_validate({**current.model_dump(), **values})
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f'"{section}.{where}": {problem["msg"]}') from None
    return config.model_copy(update=update)


class Config(Section):
    """The whole of config.toml. Every table is optional; defaults run the demo."""

    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    cluster: ClusterConfig = ClusterConfig()
    log: LogConfig = LogConfig()
    channels: ChannelsConfig = ChannelsConfig()
    rules: tuple[RuleConfig, ...] = DEFAULT_RULES
    kb: KBConfig = KBConfig()
    llm: LLMConfig = LLMConfig()
    handoff: HandoffConfig = HandoffConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    experiments: tuple[ExperimentConfig, ...] = ()
    messages: MessagesConfig = MessagesConfig()
    flows: FlowsConfig = FlowsConfig()
    languages: LanguagesConfig = LanguagesConfig()
    actions: dict[str, ActionConfig] = {}
    admin: AdminConfig = AdminConfig()
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _handoff_texts_moved(cls, data: Any) -> Any:
        """The texts that were [handoff] keys are [messages] keys; old files still work."""
        if not isinstance(data, dict) or not isinstance(data.get("handoff"), dict):
            return data
        handoff = dict(data["handoff"])
        messages = data.get("messages")
        messages = dict(messages) if isinstance(messages, dict) else messages
        for old, new in MOVED_TO_MESSAGES.items():
            if old not in handoff or not isinstance(messages, dict | None):
                continue
            messages = messages or {}
            if new in messages:
                raise ValueError(f"handoff.{old} is now messages.{new}: set only messages.{new}")
            messages[new] = handoff.pop(old)
        moved = {**data, "handoff": handoff}
        if messages:
            moved["messages"] = messages
        return moved

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Config:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate rule names: {', '.join(dupes)}")
        tiers = {t.name for t in self.llm.tiers}
        for rule in self.rules:
            if rule.action == "route" and tiers and rule.tier not in tiers:
                raise ValueError(f"rule {rule.name!r} routes to unknown tier {rule.tier!r}")
        return self

    @model_validator(mode="after")
    def _experiments_fit(self) -> Config:
        names = [e.name for e in self.experiments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate experiment names: {', '.join(dupes)}")
        for i, experiment in enumerate(self.experiments):
            for j, variant in enumerate(experiment.variants):
                try:
                    apply_overrides(self, variant.overrides)
                except ValueError as exc:
                    raise ValueError(f"experiments[{i}].variants[{j}].overrides: {exc}") from None
        return self

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, file: str = "<config>", text: str = ""
    ) -> Config:
        """Validate ``data``; raise ConfigError naming each key at fault."""
        try:
            config = cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(_problems(exc, file, text)) from None
        from flows.check import flow_problems  # how flows, rules and actions fit together

        problems = flow_problems(config, file, text)
        if problems:
            raise ConfigError(problems)
        return config

    def resolve(self, relative: str) -> Path:
        """A path from the config, taken relative to the config file's folder."""
        path = Path(relative)
        if path.is_absolute() or self.source is None:
            return path
        return self.source.parent / path


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; a missing file gives the embedded defaults."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([ConfigProblem(str(path), "", "file not found")])
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise ConfigError([ConfigProblem(str(path), "", f"not valid TOML: {exc}", line)]) from None
    config = Config.from_mapping(data, file=str(path), text=text)
    return config.model_copy(update={"source": path.resolve()})


def secret(env_name: str | None) -> str | None:
    """The value of the environment variable a config key names, or None."""
    if not env_name:
        return None
    return os.environ.get(env_name) or None


def missing_secret(file: str, key: str, env_name: str) -> ConfigProblem:
    """The problem of an unset secret, in the words ``hub run`` and ``hub check`` share."""
    return ConfigProblem(file, key, f"environment variable {env_name} is not set")


def required_secret(file: str, key: str, env_name: str) -> str:
    """The secret in ``$env_name``; a ConfigError naming ``key`` when it is not set."""
    value = secret(env_name)
    if value is None:
        raise ConfigError([missing_secret(file, key, env_name)])
    return value


# -- error reporting ---------------------------------------------------------


def _problems(exc: ValidationError, file: str, text: str) -> list[ConfigProblem]:
    from flows.check import toml_line  # follows nested arrays of tables ([[flows.list.steps]])

    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        key = _dotted(loc)
        message = _message(err)
        line = toml_line(text, loc) if loc[:1] in (("flows",), ("actions",)) else _find_line(text, loc)
        problems.append(ConfigProblem(file, key, message, line))
    return problems


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "literal_error":
        return f"{msg}, got {err['input']!r}"
    return msg


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _find_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of ``loc`` in the TOML source (tables, arrays of tables)."""
    if not text or not loc:
        return None
    names = [p for p in loc if isinstance(p, str)]
    want_table = ".".join(names[:-1])
    want_key = names[-1]
    index = next((p for p in loc if isinstance(p, int)), None)
    seen: dict[str, int] = {}
    table = ""
    occurrence = -1
    table_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = header.group(1)
            seen[table] = seen.get(table, -1) + 1
            occurrence = seen[table]
            if table == ".".join(names) and (index is None or occurrence == index):
                table_line = number
            continue
        key = _KEY.match(line)
        if key and key.group(1) == want_key and table == want_table:
            if index is None or occurrence == index:
                return number
    return table_line


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None
