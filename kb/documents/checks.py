"""``hub check`` / ``hub run`` preflight for ``[kb] documents`` (see :mod:`hub.preflight`).

Nothing here stops the hub: a glob that matches no file, or a file that cannot
be parsed, is a warning naming the key (and the file), because the index skips
such files and serves the others. Files are parsed, not embedded: the check
costs a fraction of indexing.
"""

from __future__ import annotations

from pathlib import Path

from hub.config import Config, _find_line
from hub.errors import ConfigProblem
from kb.documents.ingest import find_files
from kb.documents.sources import DocumentError, read_article

__all__ = ["check_documents"]


def check_documents(config: Config) -> list[ConfigProblem]:
    """A warning per ``[kb] documents`` glob that matches nothing and per unreadable file."""
    if not config.kb.enabled or not config.kb.documents:
        return []
    file, line = _where(config)
    root = config.resolve(".")
    problems = []
    for n, pattern in enumerate(config.kb.documents):
        key = f"kb.documents[{n}]"
        files = find_files([pattern], root)
        if not files and "documents" in config.kb.model_fields_set:  # the default may match nothing
            problems.append(ConfigProblem(file, key, f"{pattern!r} matches no Markdown, HTML, text or PDF file",
                                          line, level="warning"))
        for path in files:
            try:
                read_article(path, config.kb.documents_base_url)
            except DocumentError as exc:
                problems.append(ConfigProblem(file, key, f"{exc.path} will be skipped: {exc.reason}", line,
                                              level="warning"))
    return problems


def _where(config: Config) -> tuple[str, int | None]:
    if config.source is None:
        return "<config>", None
    try:
        text = Path(config.source).read_text(encoding="utf-8")
    except OSError:
        return str(config.source), None
    return str(config.source), _find_line(text, ("kb", "documents"))
