"""CPU per Redis command: plain redis-py, redis-py's pipeline, and the hub's client.

Concurrent tasks each run a small Lua script (SET and XADD, like the hub's
scripts) and a GET, over and over, against a redis-server of its own:

- ``redis-py``: ``redis.asyncio.Redis``, every command its own round trip;
- ``redis-py pipeline``: :class:`AutoPipelinedRedis`'s queue, each batch flushed
  through redis-py's ``Pipeline`` on a pooled connection (what the hub did before
  it packed with hiredis);
- ``hub``: :class:`hub.store.pipelining.AutoPipelinedRedis` as it is: every batch
  written at once to one shared connection, whose replies one reader task parses.

The figure is this process's CPU time (``time.process_time``) per command.

    python -m bench.redis_pipelining --tasks 1,50 --rounds 400
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from typing import Any

import uvloop
from redis import asyncio as aioredis

from bench.webchat_load import free_port
from hub.store.pipelining import AutoPipelinedRedis

SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('XADD', KEYS[2], 'MAXLEN', 100, '*', 'f', ARGV[1])
"""


class RedisPyPipelined(AutoPipelinedRedis):
    """The same queueing, each batch sent through redis-py's own ``Pipeline`` on a
    pooled connection (what the hub did before it packed with hiredis)."""

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        self._track(self._through_redis_py(batch))

    async def _through_redis_py(self, batch: list[Any]) -> None:
        try:
            results = await self._results(batch)
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _results(self, batch: list[Any]) -> list[Any]:
        if len(batch) == 1:  # alone: redis-py's own command path, as the hub then did
            args, options, _ = batch[0]
            try:
                return [await aioredis.Redis.execute_command(self, *args, **options)]
            except Exception as exc:
                return [exc]
        async with self.pipeline(transaction=False) as pipe:
            for args, options, _ in batch:
                pipe.execute_command(*args, **options)
            return list(await pipe.execute(raise_on_error=False))


async def per_command(client_class: type[aioredis.Redis], url: str, tasks: int, rounds: int) -> float:
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64, decode_responses=True)
    redis = client_class(connection_pool=pool)
    script = redis.register_script(SCRIPT)

    async def worker(n: int) -> None:
        for _ in range(rounds):
            await script(keys=[f"k{n}", f"s{n}"], args=["x" * 200])
            await redis.get(f"k{n}")

    try:
        await worker(0)  # connections made, script loaded
        started = time.process_time()
        await asyncio.gather(*(worker(n) for n in range(tasks)))
        return (time.process_time() - started) / (tasks * rounds * 2) * 1e6
    finally:
        await redis.aclose()


async def measure(url: str, task_counts: list[int], rounds: int, repeats: int) -> None:
    clients = {"redis-py": aioredis.Redis, "redis-py pipeline": RedisPyPipelined,
               "hub": AutoPipelinedRedis}
    await asyncio.sleep(0.3)  # the server is up
    for tasks in task_counts:
        for name, client_class in clients.items():
            runs = [await per_command(client_class, url, tasks, rounds) for _ in range(repeats)]
            print(f"{tasks:4d} tasks  {name:18s} {min(runs):6.1f} us CPU per command"
                  f" (best of {repeats})", flush=True)


def main(task_counts: list[int], rounds: int, repeats: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        uvloop.run(measure(f"redis://127.0.0.1:{port}/0", task_counts, rounds, repeats))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="1,50")
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    ns = parser.parse_args()
    main([int(t) for t in ns.tasks.split(",")], ns.rounds, ns.repeats)
