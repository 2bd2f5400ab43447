"""``hub privacy export|forget --channel C --user U``: one customer's data, as JSON.

Both read the store of ``--config`` (``[store] url``): with ``memory://`` the
data lives inside the running hub, so there is nothing here to export or
forget (the console's button does it in the hub). ``forget`` is recorded in the
audit log as done by ``--actor`` (default: ``cli:$USER``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from hub.config import Config, load_config
from hub.store import Store, open_store
from privacy.customer import export_customer, forget_customer

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``privacy export`` and ``privacy forget`` to an argparse subparsers object."""
    privacy = subparsers.add_parser("privacy", help="export or forget one customer's data")
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    for name, text in (("export", "print everything stored for a customer as JSON"),
                       ("forget", "delete a customer's conversations, transcripts, ratings, "
                                  "escalations and index entries (audited)")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--config", default="config.toml", metavar="PATH",
                             help="config file (./config.toml)")
        command.add_argument("--channel", required=True, help="webchat, telegram, slack, api, ...")
        command.add_argument("--user", required=True, help="the customer's user id on that channel")
        if name == "forget":
            command.add_argument("--actor", default=None, help="who asks (audit log; cli:$USER)")
        command.set_defaults(func=_cmd_export if name == "export" else _cmd_forget)


def _config(path: str) -> Config:
    return load_config(path)


def _cmd_export(args: argparse.Namespace) -> int:
    config = _config(args.config)
    _warn_if_memory(config)
    data = asyncio.run(_with_store(config, lambda store: export_customer(store, args.channel, args.user)))
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    config = _config(args.config)
    _warn_if_memory(config)
    actor = args.actor or f"cli:{getpass.getuser()}"
    report = asyncio.run(_with_store(
        config, lambda store: forget_customer(store, args.channel, args.user, actor=actor)
    ))
    print(json.dumps(report.as_dict(), indent=2))
    return 0


async def _with_store(config: Config, work: Any) -> Any:
    store: Store = open_store(config.store)
    try:
        return await work(store)
    finally:
        await store.close()


def _warn_if_memory(config: Config) -> None:
    if config.store.url.startswith("memory://"):
        print("note: [store] url is memory://: the data lives in the running hub, "
              "not here (use the console, or a redis:// store)", file=sys.stderr)
