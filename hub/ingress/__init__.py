"""The durable ingress: every event in, exactly one decision out, across crashes.

- :mod:`hub.ingress.work`: what it carries (work, entries, the outbox).
- :mod:`hub.ingress.log`: the log protocol; :mod:`~hub.ingress.memory` and
  :mod:`~hub.ingress.redis` (Redis Streams) implement it.
- :mod:`hub.ingress.leases`: which process owns which partition (and leaders).
- :mod:`hub.ingress.consumer`: owned partitions -> per-conversation lanes.
"""

from hub.ingress.consumer import Consumer, ConsumerEvents
from hub.ingress.leases import (
    Leader,
    Leases,
    LocalLeader,
    LocalLeases,
    ProcessInfo,
    RedisLeader,
    RedisLeases,
    new_process_id,
)
from hub.ingress.log import DeadLetter, IngressLog, LogStats
from hub.ingress.memory import MemoryLog
from hub.ingress.work import AgentAction, Delivery, Entry, Fence, Outbox, Work, partition_of

__all__ = [
    "AgentAction",
    "Consumer",
    "ConsumerEvents",
    "DeadLetter",
    "Delivery",
    "Entry",
    "Fence",
    "IngressLog",
    "Leader",
    "Leases",
    "LocalLeader",
    "LocalLeases",
    "LogStats",
    "MemoryLog",
    "Outbox",
    "ProcessInfo",
    "RedisLeader",
    "RedisLeases",
    "Work",
    "new_process_id",
    "partition_of",
]
