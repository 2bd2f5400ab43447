"""Every store key the hub uses, built in one place (the Redis key layout)."""

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

    def kv(self, key: str) -> str:
        return f"{self.prefix}:kv:{key}"

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
    @staticmethod
    def flow_state(conversation_id: str) -> str:
        """A conversation's flow state (flows/state.py): the step, the slots, the last result."""
        return f"flow:{conversation_id}"
