"""Every store key the hub uses, built in one place (the Redis key layout).

Two spaces. Keys the stores and the ingress use directly carry the prefix
(``sb:conv:<id>``, ``sb:in:<partition>``, ...). Names for the generic key-value
methods (``Store.get/set/incr/members/...``) are static methods at the end: the
store wraps them in :meth:`Keys.kv` (``sb:kv:<name>`` in Redis). No module
outside ``hub/store`` spells a key itself (``tests/hub/test_store_keys.py``).
"""

from __future__ import annotations

__all__ = ["Keys"]


class Keys:
    """Key builder. Prefix everything so several hubs can share one Redis."""

    def __init__(self, prefix: str = "sb") -> None:
        self.prefix = prefix

    def dedupe(self, key: str) -> str:
        return f"{self.prefix}:seen:{key}"

    def conversation(self, conversation_id: str) -> str:
        return f"{self.prefix}:conv:{conversation_id}"

    def address(self, address: str) -> str:
        return f"{self.prefix}:addr:{address}"

    def transcript(self, conversation_id: str) -> str:
        return f"{self.prefix}:tx:{conversation_id}"

    # -- the conversation index, ratings and audit log (hub/inbox.py, feedback/) -------
    def summary(self, conversation_id: str) -> str:
        """Hash: a conversation's ConversationSummary fields."""
        return f"{self.prefix}:sum:{conversation_id}"

    def inbox(self) -> str:
        """Sorted set: conversation id -> last_at (the console's list, newest first)."""
        return f"{self.prefix}:inbox"

    def customer(self, channel: str, user: str) -> str:
        """Set: the ids of one customer's conversations (privacy export and forget)."""
        return f"{self.prefix}:cust:{channel}:{user}"

    def ratings(self, conversation_id: str) -> str:
        """List: a conversation's ratings as JSON, oldest first."""
        return f"{self.prefix}:ratings:{conversation_id}"

    def recent_ratings(self) -> str:
        """List: every conversation's ratings as JSON, newest first, trimmed."""
        return f"{self.prefix}:ratings"

    def audit(self) -> str:
        """List: the operators' audit log as JSON, newest first, trimmed."""
        return f"{self.prefix}:audit"

    def kv(self, key: str) -> str:
        return f"{self.prefix}:kv:{key}"

    def stats_hour(self, hour: str) -> str:
        """One hour's counters (Store.add_to_hour): a hash of field -> float, with a TTL."""
        return f"{self.prefix}:stats:{hour}"

    def rate(self, name: str) -> str:
        """A token bucket (Store.take_tokens): hash of ``tokens`` and ``at``, with a TTL."""
        return f"{self.prefix}:rate:{name}"

    # -- webchat sessions (adapters/webchat/) -----------------------------------------
    def webchat_outbox(self, session: str) -> str:
        """A session's outbound frames: a bounded stream with a TTL, replayed on reconnect."""
        return f"{self.prefix}:webchat:out:{session}"

    def webchat_wake(self, session: str) -> str:
        """Pub/sub channel of a session: wake-ups for its outbox, typing and delta frames."""
        return f"{self.prefix}:webchat:wake:{session}"

    @staticmethod
    def webchat_secret() -> str:
        """The generated session-signing key, in the key-value space (Store.get/set)."""
        return "webchat:secret"

    # Rate-limit names (Store.take_tokens wraps them in rate()).
    @staticmethod
    def webchat_rate_session(session: str) -> str:
        """Messages of one webchat session, whichever socket or process they come in on."""
        return f"webchat:session:{session}"

    @staticmethod
    def webchat_rate_ip(client_ip: str) -> str:
        """Messages of every webchat session of one client address."""
        return f"webchat:ip:{client_ip}"

    @staticmethod
    def webchat_hellos(client_ip: str) -> str:
        """``hello`` frames (sessions opened or resumed) of one client address."""
        return f"webchat:hello:{client_ip}"

    # -- the durable ingress (hub/ingress/) -------------------------------------------
    INGRESS_GROUP = "hub"  # the one consumer group every hub process reads with

    def ingress(self, partition: int) -> str:
        """The stream of one partition's work (Redis Streams, consumer group ``hub``)."""
        return f"{self.prefix}:in:{partition}"

    def outbox(self, work_key: str) -> str:
        """The replies decided for one piece of work, kept until its dedupe expires."""
        return f"{self.prefix}:out:{work_key}"

    def dead_letters(self) -> str:
        return f"{self.prefix}:dead"

    def lease(self, partition: int) -> str:
        """A partition's lease: a redis-py Lock whose token names owner and generation."""
        return f"{self.prefix}:lease:{partition}"

    def lease_generation(self, partition: int) -> str:
        return f"{self.prefix}:lease-gen:{partition}"

    def leader(self, role: str) -> str:
        """A cluster-wide single-holder lease (``telegram-poll``, ...)."""
        return f"{self.prefix}:leader:{role}"

    def processes(self) -> str:
        """Hash: process id -> JSON heartbeat (pid, host, port, partitions, at)."""
        return f"{self.prefix}:procs"

    # -- names in the generic key-value space (Store.get/set wrap them in kv()) --------
    # These strings are the ones each feature spelled itself before they moved here,
    # byte for byte, so what a shop's Redis already holds stays readable. Never
    # change one: a renamed key silently forgets an offset, a spend or an escalation.
    @staticmethod
    def flow_state(conversation_id: str) -> str:
        """A conversation's flow state (flows/state.py): the step, the slots, the last result."""
        return f"flow:{conversation_id}"

    @staticmethod
    def escalation(conversation_id: str) -> str:
        """A conversation's latest hand-off (hub/handoff/): the Escalation as JSON."""
        return f"handoff:escalation:{conversation_id}"

    @staticmethod
    def escalation_thread(board_channel: str, thread: str) -> str:
        """The conversation id an agents' board thread (Slack channel, thread ts) is for."""
        return f"handoff:thread:{board_channel}:{thread}"

    @staticmethod
    def open_escalations() -> str:
        """Set of the conversation ids with an open escalation (the reminder loop walks it)."""
        return "handoff:open"

    @staticmethod
    def conversation_kv(conversation_id: str) -> tuple[str, ...]:
        """The key-value names that belong to one conversation (forgotten with it;
        the escalation's board thread is read from the escalation itself)."""
        return (
            Keys.flow_state(conversation_id),
            Keys.escalation(conversation_id),
            Keys.llm_cost_conversation(conversation_id),
            Keys.api_webhook(conversation_id),
            Keys.rating_prompt(conversation_id),
        )

    @staticmethod
    def rating_prompt(conversation_id: str) -> str:
        """Which bot reply of a conversation offers rating buttons now (feedback/)."""
        return f"feedback:prompt:{conversation_id}"

    @staticmethod
    def experiment_counter(experiment: str, variant: str, counter: str) -> str:
        """Float counter of one experiment variant (experiments/): conversations, ..."""
        return f"experiment:{experiment}:{variant}:{counter}"

    @staticmethod
    def telegram_offset() -> str:
        """The next Telegram update id polling wants (adapters/telegram/polling.py)."""
        return "telegram:offset"

    @staticmethod
    def telegram_callback(short: str) -> str:
        """A button value too long for Telegram's callback_data, under its short form."""
        return f"telegram:cb:{short}"

    @staticmethod
    def llm_cost_day(day: str) -> str:
        """Float counter: US dollars spent on LLM calls on ``day`` (UTC, ``YYYY-MM-DD``)."""
        return f"llm:cost:day:{day}"

    @staticmethod
    def llm_cost_tier(tier: str, day: str) -> str:
        """Float counter: US dollars spent by one LLM tier on ``day`` (UTC)."""
        return f"llm:cost:tier:{tier}:{day}"

    @staticmethod
    def llm_cost_conversation(conversation_id: str) -> str:
        """Float counter: US dollars spent on LLM calls in one conversation."""
        return f"llm:cost:conv:{conversation_id}"

    @staticmethod
    def llm_answer(digest: str) -> str:
        """A cached LLM answer (providers/cache.py), under the sha256 of its question."""
        return f"llm:cache:{digest}"

    @staticmethod
    def api_reply(message_id: str) -> str:
        """What an API message was answered with (adapters/api/), for waiters and retries."""
        return f"api:reply:{message_id}"

    @staticmethod
    def api_webhook(conversation_id: str) -> str:
        """The webhook URL an API client gave for a conversation (agents' replies go there)."""
        return f"api:webhook:{conversation_id}"

    # -- the operators' console (console/) ---------------------------------------------
    @staticmethod
    def admin_session(digest: str) -> str:
        """A signed-in console session, under the SHA-256 of its cookie token."""
        return f"admin:session:{digest}"

    @staticmethod
    def admin_login_ip(client_ip: str) -> str:
        """Rate-limit name: console sign-in attempts from one client address."""
        return f"admin:login:ip:{client_ip}"

    @staticmethod
    def admin_login_user(name: str) -> str:
        """Rate-limit name: console sign-in attempts for one user name."""
        return f"admin:login:user:{name}"
