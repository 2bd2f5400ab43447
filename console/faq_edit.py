"""Add a customer's question to an FAQ entry's ``examples``, safely, from the console.

The edit is made to the file's text (comments and layout stay), then checked by
the same loader the hot reload uses (:func:`kb.faq.parse_faq`); the admin sees
the diff first, and saving refuses if the file changed since (its SHA-256 is in
the preview form). Saving takes a file lock, keeps a timestamped backup beside
the file (``.backups/``) and replaces the file atomically; the KB's file watch
then retrains the matcher, as for a hand edit.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from filelock import FileLock

from console.errors import FaqEditError
from console.paths import PREFIX
from console.security import account_of, writes
from hub.errors import ConfigError
from kb.faq import parse_faq

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["FaqEditor", "Preview", "add_example", "routes"]

logger = logging.getLogger(__name__)

MAX_EXAMPLE = 500
_HEADER = re.compile(r"^\s*\[")
_ENTRY = re.compile(r"^\s*\[\[\s*entries\s*\]\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


@dataclass(frozen=True, slots=True)
class Preview:
    entry: str
    example: str
    diff: str
    digest: str  # of the file the diff was made against


def add_example(text: str, entry_id: str, example: str) -> str:
    """``text`` with ``example`` appended to the examples of entry ``entry_id``."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start, end = _entry_block(lines, entry_id)
    item = json.dumps(example, ensure_ascii=False)  # a JSON string is a TOML basic string
    for index in range(start, end):
        if _key(lines[index]) == "examples":
            return "".join(_append_item(lines, index, end, item))
    anchor = next((i for i in range(start, end) if _key(lines[i]) == "question"), start)
    lines.insert(anchor + 1, f"examples = [\n    {item},\n]\n")
    return "".join(lines)


def _key(line: str) -> str | None:
    found = _KEY.match(line)
    return found.group(1) if found else None


def _entry_block(lines: list[str], entry_id: str) -> tuple[int, int]:
    starts = [i for i, line in enumerate(lines) if _ENTRY.match(line)]
    for start in starts:
        end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        for line in lines[start + 1:end]:
            if _key(line) == "id" and _value(line) == entry_id:
                return start, end
    raise FaqEditError(f"no FAQ entry with id {entry_id!r}")


def _value(line: str) -> object:
    try:
        return tomllib.loads(line).get("id")
    except tomllib.TOMLDecodeError:
        return None


def _append_item(lines: list[str], index: int, end: int, item: str) -> list[str]:
    code, _ = _split_comment(lines[index])
    if code.rstrip().endswith("]"):  # one line: rewrite it as a block
        values = tomllib.loads(code)["examples"]
        body = "".join(f"    {json.dumps(v, ensure_ascii=False)},\n" for v in values)
        lines[index] = f"examples = [\n{body}    {item},\n]\n"
        return lines
    close = next((i for i in range(index + 1, end) if lines[i].strip().startswith("]")), None)
    if close is None:
        raise FaqEditError("the entry's examples list is not closed where expected")
    last = close - 1
    while last > index and (not lines[last].strip() or lines[last].strip().startswith("#")):
        last -= 1
    code, comment = _split_comment(lines[last].rstrip("\n"))
    code = code.rstrip()
    if last > index and not code.endswith(","):
        lines[last] = code + "," + (f"  {comment}" if comment else "") + "\n"
    lines.insert(close, f"    {item},\n")
    return lines


def _split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of one TOML line: the first ``#`` outside a string starts the comment."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index], line[index:].strip()
    return line, ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FaqEditor:
    """Previews and saves example phrasings for the FAQ file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = FileLock(str(path) + ".lock", timeout=10)

    def preview(self, entry_id: str, example: str) -> Preview:
        text = self.path.read_text(encoding="utf-8")
        new = self._checked(text, entry_id, example)
        diff = "".join(difflib.unified_diff(
            text.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=self.path.name, tofile=f"{self.path.name} (new)", n=3,
        ))
        return Preview(entry_id, example, diff, _digest(text))

    def save(self, entry_id: str, example: str, digest: str) -> Path:
        """Write the edit; the backup's path. FaqEditError if the file moved on since."""
        with self.lock:
            text = self.path.read_text(encoding="utf-8")
            if _digest(text) != digest:
                raise FaqEditError("the FAQ file changed since the preview; preview again")
            new = self._checked(text, entry_id, example)
            backup = self._backup()
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(new, encoding="utf-8")
            os.replace(temporary, self.path)
        return backup

    def _checked(self, text: str, entry_id: str, example: str) -> str:
        example = " ".join(example.split())
        if not example or len(example) > MAX_EXAMPLE:
            raise FaqEditError(f"an example must be 1 to {MAX_EXAMPLE} characters")
        before = parse_faq(text, file=str(self.path)).get(entry_id)
        if before is None:
            raise FaqEditError(f"no FAQ entry with id {entry_id!r}")
        if example in before.phrasings:
            raise FaqEditError(f"{entry_id!r} already has that phrasing")
        new = add_example(text, entry_id, example)
        try:
            after = parse_faq(new, file=str(self.path)).get(entry_id)
        except ConfigError as exc:  # the hot reload's own checks
            raise FaqEditError(f"the edit would break the FAQ: {exc}") from exc
        if after is None or example not in after.examples:
            raise FaqEditError("the edit did not land in the entry; edit the file by hand")
        return new

    def _backup(self) -> Path:
        folder = self.path.parent / ".backups"
        folder.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup = folder / f"{self.path.stem}.{stamp}.{time.time_ns() % 10**9}{self.path.suffix}"
        shutil.copy2(self.path, backup)
        return backup


def routes(console: Console, router: web.UrlDispatcher) -> None:
    def editor(form: Any) -> FaqEditor:
        """The FAQ file of the question's language (``[kb] path`` for the default one)."""
        from console.attention import faq_files

        config = console.hub.config
        files = faq_files(console)
        path = files.get(str(form.get("language", ""))) or config.resolve(config.kb.path)
        return FaqEditor(path)

    @writes
    async def preview(request: web.Request) -> web.Response:
        form = await request.post()
        entry, question = str(form.get("entry", "")), str(form.get("question", ""))
        chosen = editor(form)
        try:
            shown = await asyncio.to_thread(chosen.preview, entry, question)
        except (FaqEditError, ConfigError, OSError) as exc:
            return console.render(request, "faq_preview.html", status=400, error=str(exc),
                                  preview=None)
        return console.render(request, "faq_preview.html", preview=shown, error="",
                              file=chosen.path.name, language=str(form.get("language", "")))

    @writes
    async def save(request: web.Request) -> web.Response:
        form = await request.post()
        entry, question = str(form.get("entry", "")), str(form.get("question", ""))
        try:
            backup = await asyncio.to_thread(editor(form).save, entry, question, str(form.get("digest", "")))
        except (FaqEditError, ConfigError, OSError) as exc:
            return console.render(request, "faq_preview.html", status=409, error=str(exc),
                                  preview=None)
        actor = account_of(request).name
        await console.audit(actor, "faq edit",
                            f"entry {entry}: example added; backup {backup.name}")
        logger.info("FAQ entry %s: example added from the console by %s", entry, actor)
        raise web.HTTPSeeOther(f"{PREFIX}/attention?saved={entry}")

    router.add_post("/faq/preview", preview)
    router.add_post("/faq/save", save)
