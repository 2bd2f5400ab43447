"""The ``hub`` command: run, check, ask (and the knowledge-base tools).

Only this module configures logging handlers and prints.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Coroutine, Sequence  # noqa: E402
from contextlib import AsyncExitStack  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from hub.config import Config, load_config  # noqa: E402
from hub.envelope import InboundMessage, new_id  # noqa: E402
from hub.errors import ConfigError  # noqa: E402
from hub.logs import setup_logging  # noqa: E402

__all__ = ["main"]

DEFAULT_CONFIG = "config.toml"


def _load(path: str) -> Config:
    """The config at ``path``; the embedded defaults when the default file is absent."""
    if path == DEFAULT_CONFIG and not Path(path).exists():
        return Config()
    return load_config(path)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=DEFAULT_CONFIG, metavar="PATH", help="config file (./config.toml)"
    )


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.port is not None:
        config = config.model_copy(
            update={"server": config.server.model_copy(update={"port": args.port})}
        )
    setup_logging(config.log.level, config.log.format)
    if args.workers > 1:
        return _run_workers(args, config)
    try:
        run_forever(run(config, reuse_port=args.reuse_port))
    except KeyboardInterrupt:
        pass
    return 0


def _run_workers(args: argparse.Namespace, config: Config) -> int:
    from hub.ingress.status import needs_redis
    from hub.workers import supervise

    problem = needs_redis(config)
    if problem is None and not config.server.port:
        problem = "--workers needs a fixed port ([server] port or --port), not 0"
    if problem is not None:
        print(f"hub run --workers {args.workers}: {problem}", file=sys.stderr)
        return 1
    argv = ["run", "--config", args.config, "--port", str(config.server.port), "--reuse-port"]
    host = f"http://{config.server.host}:{config.server.port}"
    print(f"Switchboard is running {args.workers} workers: open {host}/ (Ctrl-C to stop)",
          flush=True)
    return supervise(argv, args.workers, stop_timeout_s=config.cluster.drain_s + 10)


async def run(config: Config, *, reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM."""
    from hub.service import HubService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with HubService(config, reuse_port=reuse_port) as service:
        # Everything loaded so far (litellm, sklearn, the trained matcher) lives as
        # long as the process: keep it out of the garbage collector's full passes,
        # which otherwise stall every conversation for tens of milliseconds.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)  # fewer young-generation passes per message
        print(f"Switchboard is running: open {service.url}/ (Ctrl-C to stop)", flush=True)
        await stop.wait()


def run_forever(main: Coroutine[Any, Any, None]) -> None:
    """Run the service on uvloop where it is installed (Linux, macOS), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def cmd_status(args: argparse.Namespace) -> int:
    from hub.errors import StoreError
    from hub.ingress.status import cluster_status, needs_redis

    config = _load(args.config)
    problem = needs_redis(config)
    if problem is not None:
        print(f"hub status: {problem}; see the running hub's /healthz", file=sys.stderr)
        return 1
    try:
        status = asyncio.run(cluster_status(config))
    except StoreError as exc:
        print(f"hub status: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status.as_dict()))
        return 0
    alive = [p for p in status.processes if p.alive]
    print(f"processes: {len(alive)} alive of {len(status.processes)} known")
    for p in status.processes:
        state = "alive" if p.alive else f"silent {p.heartbeat_age_s:.0f} s"
        print(f"  {p.id}  pid {p.pid}  {p.url or '-'}  {p.partitions} partitions  {state}")
    unowned = f" ({len(status.unowned)} unowned)" if status.unowned else ""
    print(f"partitions: {status.partitions}{unowned}")
    print(f"lag: {status.lag} waiting, {status.pending} in progress")
    print(f"dead letters: {status.dead_letters}")
    for letter in status.recent_dead_letters:
        print(f"  {letter['address']}: {letter['reason']}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Everything `hub run` would load: the config, then :func:`hub.preflight.preflight`."""
    from hub.preflight import preflight

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    checked = preflight(config)
    for warning in checked.warnings:
        print(warning, file=sys.stderr)
    if not checked.ok:
        print(ConfigError(list(checked.errors)), file=sys.stderr)
        return 1
    print(f"{args.config}: OK ({len(config.rules)} rules, {len(config.llm.tiers)} LLM tiers)")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    config = _load(args.config)
    setup_logging("WARNING")
    if args.script:
        return _ask_script(config, args)
    if args.text is None:
        print("hub ask: give TEXT, or --script FILE", file=sys.stderr)
        return 2
    result = asyncio.run(_ask(config, args.text, args.channel))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return 0
    print(f"stage:   {result['stage']}")
    print(f"reason:  {result['reason']}")
    print(f"reply:   {result['reply']}")
    for button in result["buttons"]:
        print(f"button:  [{button['label']}] -> {button['value']}")
    if result["handoff"]:
        print(f"handoff: {result['handoff']['reason']} (queue {result['handoff']['queue'] or '-'})")
        if not (config.channels.slack.enabled and config.handoff.agents_channel):
            print("note:    no [handoff] agents_channel with Slack, so the customer would be "
                  "told no one from the team is available")
    for step in result["trace"]:
        print(f"trace:   {step}")
    for key, value in result["details"].items():
        print(f"detail:  {key} = {value}")
    return 0


def _ask_script(config: Config, args: argparse.Namespace) -> int:
    """Every line's decision with its flow, step and slots (flows/script.py)."""
    from flows.script import play, script_lines

    try:
        lines = script_lines(Path(args.script).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"hub ask: cannot read {args.script}: {exc}", file=sys.stderr)
        return 1
    results = asyncio.run(play(config, lines, args.channel))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, default=str))
        return 0
    for number, result in enumerate(results, start=1):
        print(f"{number:>3} > {result['text']}")
        print(f"    stage:   {result['stage']} ({result['reason']})")
        print(f"    reply:   {result['reply']}")
        for button in result["buttons"]:
            print(f"    button:  [{button['label']}] -> {button['value']}")
        if result["handoff"]:
            print(f"    handoff: {result['handoff']['reason']}")
        for step in result["trace"]:
            print(f"    trace:   {step}")
        steps = result["details"].get("steps")
        if steps:
            print(f"    steps:   {' -> '.join(steps)}")
        after = result["flow_after"]
        where = f"{after['flow']} waits at {after['step']}" if after else "no flow"
        print(f"    flow:    {where}; slots {after['slots'] if after else {}}")
    return 0


async def _ask(config: Config, text: str, channel: str) -> dict[str, object]:
    """Run one message through the stages, with no channel and a throwaway store."""
    from hub.hub import Hub
    from hub.metrics import Metrics
    from hub.service import build_stages, enter_stages
    from hub.store import MemoryStore

    store = MemoryStore()
    metrics = Metrics()
    stages = build_stages(config, store, metrics)
    hub = Hub(config, store, stages, metrics=metrics)
    message = InboundMessage(
        channel=channel, conversation_id="ask", user_id="admin", message_id=new_id(), text=text
    )
    async with AsyncExitStack() as stack:
        await enter_stages(stack, stages)
        return await hub.dry_run(message)


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print an argon2 hash for an ``[admin] users`` entry's ``password_hash_env``."""
    from getpass import getpass

    from console import hash_password

    if sys.stdin.isatty():
        password = getpass("Password: ")
        if getpass("Again: ") != password:
            print("hub admin hash-password: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        print("hub admin hash-password: use at least 8 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Switchboard support hub")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the hub")
    _config_arg(run)
    run.add_argument("--port", type=int, help="listen on PORT (overrides [server] port)")
    run.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="N processes on one port (SO_REUSEPORT); needs a redis:// store",
    )
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="the cluster on the Redis store: processes, lag, dead letters")
    _config_arg(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=cmd_status)

    check = sub.add_parser("check", help="validate a config file (exit 1 if invalid)")
    _config_arg(check)
    check.set_defaults(func=cmd_check)

    ask = sub.add_parser("ask", help="run one message through the stages and show the decision")
    _config_arg(ask)
    ask.add_argument("--json", action="store_true", help="print the decision as JSON")
    ask.add_argument("--channel", default="webchat", help="pretend the message came on CHANNEL")
    ask.add_argument("text", nargs="?", help="the customer's message")
    ask.add_argument("--script", metavar="FILE",
                     help="play a conversation: one customer line per line of FILE")
    ask.set_defaults(func=cmd_ask)

    admin = sub.add_parser("admin", help="the operators' console (/admin)")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    hashing = admin_sub.add_parser(
        "hash-password", help="print an argon2 hash of a password (from stdin or a prompt)"
    )
    hashing.set_defaults(func=cmd_hash_password)

    _register_plugins(sub)
    return parser


def _register_plugins(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kb.cli import register
    from privacy.cli import register as register_privacy

    register(sub)
    register_privacy(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
