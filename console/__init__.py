"""The operators' console at ``/admin``: conversations, failures, numbers, experiments, privacy.

Server-rendered (Jinja2, autoescaped), one small script for live updates, no CDN.
Off unless ``[admin] users`` names at least one account. See docs/console.md.
"""

from console.accounts import Account, Accounts, hash_password
from console.app import CONSOLE_KEY, PREFIX, Console, build_console
from console.errors import ConsoleError, FaqEditError
from console.stats import HourlyStats

__all__ = [
    "CONSOLE_KEY",
    "PREFIX",
    "Account",
    "Accounts",
    "Console",
    "ConsoleError",
    "FaqEditError",
    "HourlyStats",
    "build_console",
    "hash_password",
]
