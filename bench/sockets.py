"""Idle webchat sockets: memory per socket, and the most sockets one hub process holds.

A ``hub run`` process (memory store) is started with high caps; raw clients in
this process open sockets in steps, each sends a ``hello`` and reads its welcome,
then stays idle. After each step the hub's RSS is read from ``/proc/<pid>/status``.
Both processes get RLIMIT_NOFILE raised to the hard limit.

    python -m bench.sockets --step 2000 --max 16000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from bench.webchat_load import free_port, spawn, wait_ready

CONFIG = """
[server]
port = {port}
max_connections = 1000000
max_connections_per_ip = 1000000
[log]
level = "WARNING"
[channels.webchat]
hellos_per_ip_per_min = 1000000
heartbeat_s = 3600  # the raw clients do not answer pings
[kb]
enabled = false
[llm]
enabled = false
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def hello_frame() -> bytes:
    data, mask = json.dumps({"type": "hello", "session": None}).encode(), os.urandom(4)
    return bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def idle_socket(port: int) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    await reader.readuntil(b"\r\n\r\n")
    writer.write(hello_frame())
    head = await reader.readexactly(2)  # the welcome frame: unmasked text
    size = head[1] & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    await reader.readexactly(size)
    return writer


async def run(step: int, most: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the child inherits it
    port = free_port()
    folder = tempfile.mkdtemp(prefix="sb-bench-sockets-")
    config = Path(folder) / "config.toml"
    config.write_text(CONFIG.format(port=port))
    hub = spawn(["-m", "hub.cli", "run", "--config", str(config)])
    held: list[asyncio.StreamWriter] = []
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        await asyncio.sleep(1.0)
        base = rss_mb(hub.pid)
        print(f"fd limit {hard}; hub RSS with no socket: {base:.1f} MB")
        while len(held) < most:
            started = time.monotonic()
            want = min(step, most - len(held))
            opened = await asyncio.gather(
                *(idle_socket(port) for _ in range(want)), return_exceptions=True
            )
            held += [w for w in opened if isinstance(w, asyncio.StreamWriter)]
            failed = sum(1 for w in opened if not isinstance(w, asyncio.StreamWriter))
            await asyncio.sleep(1.0)
            rss = rss_mb(hub.pid)
            per = (rss - base) * 1024 / len(held) if held else 0.0
            print(f"{len(held):6d} sockets  hub RSS {rss:7.1f} MB  {per:5.1f} KB/socket  "
                  f"step {time.monotonic() - started:4.1f} s  failed {failed}")
            if failed:
                break
        print(f"largest number held: {len(held)}")
    finally:
        for writer in held:
            writer.transport.abort()
        hub.terminate()
        hub.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=2000)
    parser.add_argument("--max", type=int, default=16000)
    args = parser.parse_args()
    asyncio.run(run(args.step, args.max))


if __name__ == "__main__":
    main()
