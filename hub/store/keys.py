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

    # -- names in the generic key-value space (Store.get/set wrap them in kv()) --------
    @staticmethod
    def flow_state(conversation_id: str) -> str:
        """A conversation's flow state (flows/state.py): the step, the slots, the last result."""
        return f"flow:{conversation_id}"
