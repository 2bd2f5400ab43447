"""AutoPipelinedRedis on a real redis-server: concurrent commands share round trips on
one connection. Faults the real server cannot be made to show on cue (a connection
dropped with replies due, replies that never come) come from a small fake that
speaks the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hiredis
import pytest
from redis import asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, LockNotOwnedError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.store.pipelining import AutoPipelinedRedis
from tests.harness import free_port


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[AutoPipelinedRedis]:
    redis = AutoPipelinedRedis.from_url(redis_url, decode_responses=True)
    try:
        yield redis
    finally:
        await redis.aclose()


async def _reads(redis_url: str) -> int:
    async with aioredis.Redis.from_url(redis_url) as probe:
        return int((await probe.info("stats"))["total_reads_processed"])


async def test_concurrent_commands_go_out_in_a_few_round_trips(
    client: AutoPipelinedRedis, redis_url: str
) -> None:
    await client.ping()
    before = await _reads(redis_url)
    await asyncio.gather(*(client.set(f"k{i}", i) for i in range(200)))
    values = await asyncio.gather(*(client.get(f"k{i}") for i in range(200)))
    reads = await _reads(redis_url) - before
    assert values == [str(i) for i in range(200)]
    assert reads <= 10, f"{reads} reads at the server for 400 commands"  # 2 batches + probes


async def test_one_callers_error_is_its_own(client: AutoPipelinedRedis) -> None:
    await client.set("text", "not a number")
    results = await asyncio.gather(
        client.incr("counter"), client.incr("text"), client.get("text"), return_exceptions=True
    )
    assert results[0] == 1 and results[2] == "not a number"
    assert isinstance(results[1], ResponseError)


async def test_commands_of_one_task_run_in_order(client: AutoPipelinedRedis) -> None:
    await asyncio.gather(client.rpush("list", "a"), client.rpush("list", "b"), client.rpush("list", "c"))
    assert await client.lrange("list", 0, -1) == ["a", "b", "c"]


async def test_a_blocking_read_does_not_hold_up_other_commands(client: AutoPipelinedRedis) -> None:
    await client.xgroup_create("stream", "g", id="0", mkstream=True)
    blocked = asyncio.create_task(client.xreadgroup("g", "c", {"stream": ">"}, block=10_000))
    await asyncio.sleep(0.05)
    assert await client.set("other", "1")  # not queued behind the 10 s read
    assert not blocked.done()
    await client.xadd("stream", {"f": "v"})
    assert (await asyncio.wait_for(blocked, 5))[0][0] == "stream"


async def test_scripts_reload_after_a_script_flush(client: AutoPipelinedRedis) -> None:
    script = client.register_script("return redis.call('GET', KEYS[1])")
    await client.set("x", "1")
    assert await script(keys=["x"]) == "1"
    await client.script_flush()
    assert await asyncio.gather(script(keys=["x"]), script(keys=["x"])) == ["1", "1"]


async def test_redis_pys_lock_checks_its_owner_through_the_pipelined_client(
    client: AutoPipelinedRedis,
) -> None:
    """The leases (hub/ingress/leases.py) are Locks on this client: their scripts must
    still check the owner's token on extend and release."""
    lock = Lock(client, "lease", timeout=5, blocking=False, thread_local=False)
    assert await lock.acquire()
    assert await lock.extend(5)
    assert not await Lock(client, "lease", timeout=5, blocking=False).acquire()
    await client.set("lease", "the-next-owner")  # the lease expired and moved on
    with pytest.raises(LockNotOwnedError):
        await lock.extend(5)
    with pytest.raises(LockNotOwnedError):
        await lock.release()
    assert await client.get("lease") == "the-next-owner"


async def test_a_script_runs_queued_in_a_transaction(client: AutoPipelinedRedis) -> None:
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    async with client.pipeline(transaction=True) as pipe:
        await script(keys=["n"], client=pipe)
        await script(keys=["n"], client=pipe)
        assert await pipe.execute() == [1, 2]


async def test_a_cancelled_caller_leaves_the_others_their_answers(client: AutoPipelinedRedis) -> None:
    gone = asyncio.create_task(client.set("a", "1"))
    kept = asyncio.create_task(client.set("b", "2"))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept
    assert await client.get("b") == "2"


async def test_a_dead_server_fails_every_caller_with_a_connection_error() -> None:
    redis = AutoPipelinedRedis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        results = await asyncio.gather(redis.get("a"), redis.get("b"), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
    finally:
        await redis.aclose()


async def test_a_batch_packs_every_kind_of_argument_as_redis_py_does(
    client: AutoPipelinedRedis, redis_url: str
) -> None:
    await client.xgroup_create("s", "g", id="0", mkstream=True)  # "XGROUP CREATE": split
    results = await asyncio.gather(
        client.set("bytes", memoryview(b"\x00\xff")),
        client.set("int", 7),
        client.set("float", 0.5),
        client.set("text", "é 漢"),
        client.xinfo_groups("s"),
    )
    assert results[:4] == [True] * 4 and results[4][0]["name"] == "g"
    async with aioredis.Redis.from_url(redis_url) as raw:
        assert await raw.mget("bytes", "int", "float", "text") == [
            b"\x00\xff", b"7", b"0.5", "é 漢".encode()
        ]


async def test_an_argument_redis_py_refuses_fails_only_its_caller(client: AutoPipelinedRedis) -> None:
    results = await asyncio.gather(
        client.set("a", "1"), client.set("b", True), client.get("a"), return_exceptions=True  # type: ignore[arg-type]
    )
    assert results[0] is True and results[2] == "1"
    assert isinstance(results[1], DataError)


async def test_a_batch_whose_replies_never_come_times_out_once() -> None:
    """The replies of a batch share one deadline (``socket_timeout``): a server that
    takes the commands and never answers fails every caller with redis-py's
    TimeoutError, which the store turns into StoreUnavailable."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = AutoPipelinedRedis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3)
    try:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(
            redis.get("a"), redis.get("b"), redis.get("c"), return_exceptions=True
        )
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
        assert asyncio.get_running_loop().time() - started < 2.5  # not 0.3 s per reply per retry
    finally:
        await redis.aclose()
        server.close()


async def test_reply_options_are_applied_as_redis_py_applies_them(
    client: AutoPipelinedRedis,
) -> None:
    """Each reply goes through redis-py's response callback, with the options a command
    passes (here ``withscores``, and the ``EMPTY_RESPONSE`` of an MGET of no keys)."""
    await client.zadd("z", {"a": 1.5, "b": 2})
    ranked, missing, scored = await asyncio.gather(
        client.zrange("z", 0, -1, withscores=True),
        client.mget([]),  # MGET with no key: Redis refuses it, redis-py answers []
        client.zscore("z", "a"),
    )
    assert ranked == [("a", 1.5), ("b", 2.0)]
    assert missing == []
    assert scored == 1.5


async def test_concurrent_first_calls_of_a_script_get_their_own_keys_and_args(
    client: AutoPipelinedRedis,
) -> None:
    script = client.register_script("return {KEYS[1], ARGV[1]}")
    assert await asyncio.gather(script(keys=["k"], args=["v"]), script(keys=["j"])) == [
        ["k", "v"], ["j"],
    ]


async def test_a_blocking_read_may_wait_longer_than_the_socket_timeout(redis_url: str) -> None:
    """``XREADGROUP ... BLOCK`` gets its block on top of ``socket_timeout`` to answer."""
    async with AutoPipelinedRedis.from_url(redis_url, socket_timeout=0.2, decode_responses=True) as redis:
        await redis.xgroup_create("s", "g", id="0", mkstream=True)
        later = asyncio.get_running_loop().call_later(
            0.5, lambda: asyncio.ensure_future(redis.xadd("s", {"f": "v"}))
        )
        try:
            reply = await redis.xreadgroup("g", "c", {"s": ">"}, count=1, block=2000)
        finally:
            later.cancel()
        assert reply[0][1][0][1] == {"f": "v"}  # parsed by redis-py's own callback
        assert await redis.xreadgroup("g", "c", {"s": ">"}, count=1, block=300) == []


async def test_every_pipelined_command_shares_one_connection(redis_url: str) -> None:
    """Counted by client name: the session's redis-server also serves other tests."""
    async with AutoPipelinedRedis.from_url(redis_url, client_name="shared-pipe") as redis:
        for _ in range(3):
            await asyncio.gather(*(redis.incr(f"n{i}") for i in range(50)))
        async with aioredis.Redis.from_url(redis_url, decode_responses=True) as probe:
            names = [c["name"] for c in await probe.client_list()]
    assert names.count("shared-pipe") == 1, names


async def test_batches_queued_while_connecting_go_out_in_order(client: AutoPipelinedRedis) -> None:
    """One command per turn of the loop, from before the connection is up until after:
    the batches that waited for it go out before any flushed once it is there."""
    sent = []
    for i in range(200):
        sent.append(asyncio.create_task(client.rpush("list", str(i))))
        await asyncio.sleep(0)
    await asyncio.gather(*sent)
    assert await client.lrange("list", 0, -1) == [str(i) for i in range(200)]


async def test_a_killed_connection_is_replaced_by_the_next_command(
    client: AutoPipelinedRedis, redis_url: str
) -> None:
    await client.set("k", "1")
    async with aioredis.Redis.from_url(redis_url) as probe:
        await probe.client_kill_filter(_type="normal", skipme=True)
    for _ in range(50):  # the reader sees the connection close
        await asyncio.sleep(0.01)
        if not client._pipe.ready:
            break
    assert await client.get("k") == "1"


class _FakeRedis:
    """Answers redis-py's connection handshake, then does to every later command what
    the test says: ``close`` the connection, ``swallow`` it (no reply, ever), or
    answer ``+OK`` after a RESP3 ``push`` message (what client tracking sends)."""

    def __init__(self, then: str) -> None:
        self.then = then
        self.commands: list[list[bytes]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            while (command := parser.gets()) is not False:
                if command[0].upper() == b"HELLO":  # the handshake: RESP3, then SETINFO
                    writer.write(b"%1\r\n+proto\r\n:3\r\n")
                    continue
                if command[0].upper() == b"CLIENT":
                    writer.write(b"+OK\r\n")
                    continue
                self.commands.append(command)
                if self.then == "close":
                    writer.close()
                    return
                if self.then == "push":
                    writer.write(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n")


async def test_a_connection_lost_with_replies_due_fails_their_callers_only() -> None:
    fake = _FakeRedis(then="close")
    async with fake as url:
        redis = AutoPipelinedRedis.from_url(url, socket_timeout=0.5)
        try:
            results = await asyncio.gather(redis.get("a"), redis.get("b"), return_exceptions=True)
            assert all(isinstance(r, RedisConnectionError) for r in results), results
            assert [c[0] for c in fake.commands] == [b"GET"]  # written, then the drop
            fake.then = "swallow"  # the next command connects again
            with pytest.raises(RedisTimeoutError):
                await asyncio.wait_for(redis.get("c"), 5)
        finally:
            await redis.aclose()


async def test_replies_that_never_come_time_out_on_one_timer() -> None:
    """The handshake is answered, then nothing: every caller hears redis-py's
    TimeoutError after about ``socket_timeout``, not one per reply."""
    async with _FakeRedis(then="swallow") as url:
        redis = AutoPipelinedRedis.from_url(url, socket_timeout=0.3)
        try:
            await asyncio.sleep(0)
            started = asyncio.get_running_loop().time()
            first = asyncio.create_task(redis.get("a"))
            await asyncio.sleep(0.1)  # a later batch, on the same connection
            results = await asyncio.gather(
                first, redis.get("b"), redis.get("c"), return_exceptions=True
            )
            elapsed = asyncio.get_running_loop().time() - started
            assert all(isinstance(r, RedisTimeoutError) for r in results), results
            assert elapsed < 1.5, elapsed
        finally:
            await redis.aclose()


async def test_a_push_message_is_nobodys_reply() -> None:
    async with _FakeRedis(then="push") as url:
        redis = AutoPipelinedRedis.from_url(url, socket_timeout=2)
        try:
            assert await asyncio.gather(redis.set("a", "1"), redis.set("b", "2")) == [True, True]
        finally:
            await redis.aclose()
