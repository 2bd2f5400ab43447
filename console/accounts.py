"""Console accounts: ``[admin] users``, each with an argon2 hash read from the environment.

``hub admin hash-password`` prints a hash for ``$password_hash_env``. Checking a
password takes the same time whether or not the name exists (an unknown name is
checked against a throwaway hash), so timing does not tell which names are real.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.config import AdminConfig, required_secret
from hub.errors import ConfigError, ConfigProblem

__all__ = ["Account", "Accounts", "Role", "hash_password"]

Role = Literal["viewer", "admin"]

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (with its salt and parameters) for ``[admin] users`` hash variables."""
    return _HASHER.hash(password)


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role

    @property
    def can_write(self) -> bool:
        return self.role == "admin"


class Accounts:
    """The configured users and their hashes; ``verify`` runs argon2 off the event loop."""

    def __init__(self, hashes: dict[str, tuple[Account, str]]) -> None:
        self._hashes = hashes
        self._decoy = _HASHER.hash("not a password anyone has")

    @classmethod
    def from_config(cls, admin: AdminConfig, file: str = "config.toml") -> Accounts:
        """Read each user's hash from its variable; a ConfigError names every one missing."""
        hashes: dict[str, tuple[Account, str]] = {}
        problems: list[ConfigProblem] = []
        for index, user in enumerate(admin.users):
            key = f"admin.users[{index}].password_hash_env"
            try:
                hashed = required_secret(file, key, user.password_hash_env)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            if not hashed.startswith("$argon2"):
                problems.append(ConfigProblem(
                    file, key, f"${user.password_hash_env} is not an argon2 hash "
                    "(make one with `hub admin hash-password`)"))
                continue
            hashes[user.name] = (Account(user.name, user.role), hashed)
        if problems:
            raise ConfigError(problems)
        return cls(hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def get(self, name: str) -> Account | None:
        found = self._hashes.get(name)
        return found[0] if found else None

    async def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is its password, else None."""
        account, hashed = self._hashes.get(name, (None, self._decoy))
        ok = await asyncio.to_thread(_matches, hashed, password)
        return account if ok and account is not None else None


def _matches(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
