"""Build the document index from ``[kb] documents`` globs, incrementally, with a disk cache.

Each file is known by its content hash (BLAKE2b). On a refresh a file whose
size and modification time did not change is not even read; one that did is
hashed, and only a new hash is parsed, chunked and embedded again. A deleted
file drops out. Parsed chunks and their vectors are kept in ``cache_dir``
(``manifest.json`` and one ``.npz`` per file), so a restart re-embeds nothing.
A file that cannot be parsed is logged by path and skipped; the others are
indexed all the same. BM25 is rebuilt over all chunks each time (bm25s indexes
thousands of chunks a second).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kb.documents.chunks import Chunk, chunk_article
from kb.documents.index import DocumentIndex, IndexedFile, Skipped, analyse, embed_chunks
from kb.documents.sources import SUFFIXES, DocumentError, read_article
from kb.embedding import JointEmbedder, load_embedder

__all__ = ["CACHE_VERSION", "Sources", "build_index", "find_files"]

logger = logging.getLogger(__name__)

# Bump when parsing, chunking or the embedding changes: old cache entries are ignored.
CACHE_VERSION = 1
_MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the documents are: globs relative to ``root``, the base URL, the cache folder."""

    patterns: tuple[str, ...]
    root: Path
    base_url: str = ""
    cache_dir: Path | None = None


def find_files(patterns: Sequence[str], root: Path) -> list[Path]:
    """Files the globs match (``**`` recurses), of a supported type, sorted, once each."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(root / pattern)
        for name in glob.glob(full, recursive=True):
            path = Path(name)
            if path.suffix.lower() in SUFFIXES and path.is_file():
                found.setdefault(str(path), path)
    return [found[k] for k in sorted(found)]


def build_index(
    sources: Sources, previous: DocumentIndex | None = None, embedder: JointEmbedder | None = None
) -> DocumentIndex:
    """A fresh index of the files the sources match, re-using whatever did not change."""
    embedder = embedder or load_embedder()
    cache = _Cache(sources.cache_dir)
    known = {f.path: f for f in previous.files} if previous else {}
    files: list[IndexedFile] = []
    skipped: list[Skipped] = []
    by_content: dict[str, str] = {}
    for path in find_files(sources.patterns, sources.root):
        try:
            indexed = _one(path, sources.base_url, known.get(str(path)), cache, embedder)
        except DocumentError as exc:
            logger.warning("document %s skipped: %s", exc.path, exc.reason)
            skipped.append(Skipped(exc.path, exc.reason, time.time()))
            continue
        first = by_content.setdefault(indexed.digest, indexed.path)
        if first != indexed.path:
            logger.warning("document %s skipped: same content as %s", indexed.path, first)
            skipped.append(Skipped(indexed.path, f"duplicate of {first}", time.time()))
            continue
        files.append(indexed)
    cache.save(files, sources.base_url)
    return DocumentIndex(files, skipped, dim=embedder.dim)


def _one(
    path: Path, base_url: str, before: IndexedFile | None, cache: _Cache, embedder: JointEmbedder
) -> IndexedFile:
    stamp = _stamp(path)
    if before is not None and before.stamp == stamp:
        return before
    cached = cache.by_stamp(path, stamp, base_url)
    if cached is not None:
        return cached
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror or exc}") from None
    digest = _digest(data)
    if before is not None and before.digest == digest:
        return _restamp(before, stamp)
    cached = cache.by_digest(path, digest, stamp, base_url)
    if cached is not None:
        return cached
    article = read_article(path, base_url)
    chunks = chunk_article(article)
    vectors, title_vector = embed_chunks(embedder, article.title, chunks)
    logger.info("indexed %s: %d chunks", path, len(chunks))
    terms = tuple(tuple(analyse(c.indexed_text)) for c in chunks)
    return IndexedFile(str(path), digest, stamp, article.doc_id, article.title, article.url,
                       tuple(chunks), vectors, title_vector, time.time(), terms)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return (st.st_mtime_ns, st.st_size)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _restamp(indexed: IndexedFile, stamp: tuple[int, int]) -> IndexedFile:
    return replace(indexed, stamp=stamp)


class _Cache:
    """The on-disk copy: a manifest of parsed files and one ``.npz`` of vectors each."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.entries: dict[str, dict[str, object]] = {}
        if folder is not None:
            self.entries = self._read()

    def _read(self) -> dict[str, dict[str, object]]:
        assert self.folder is not None
        try:
            data = json.loads((self.folder / _MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("document cache %s unreadable, rebuilding it: %s", self.folder, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def by_stamp(self, path: Path, stamp: tuple[int, int], base_url: str) -> IndexedFile | None:
        entry = self.entries.get(str(path))
        if entry is None or tuple(entry.get("stamp", ())) != stamp or entry.get("base_url") != base_url:
            return None
        return self._load(str(path), entry, stamp)

    def by_digest(self, path: Path, digest: str, stamp: tuple[int, int], base_url: str) -> IndexedFile | None:
        entry = self.entries.get(str(path))
        if entry is None or entry.get("digest") != digest or entry.get("base_url") != base_url:
            return None
        return self._load(str(path), entry, stamp)

    def _load(self, path: str, entry: dict[str, object], stamp: tuple[int, int]) -> IndexedFile | None:
        assert self.folder is not None
        try:
            with np.load(self.folder / f"{entry['digest']}.npz") as stored:
                vectors, title_vector = stored["vectors"], stored["title"]
            doc_id, title, url = str(entry["doc_id"]), str(entry["title"]), str(entry["url"])
            chunks = tuple(
                Chunk(doc_id, title, url, str(c["heading"]), str(c["anchor"]), str(c["text"]))
                for c in entry["chunks"]  # type: ignore[attr-defined]
            )
        except (OSError, KeyError, ValueError, TypeError):
            return None
        if len(chunks) != len(vectors):
            return None
        return IndexedFile(path, str(entry["digest"]), stamp, doc_id, title, url, chunks,
                           vectors, title_vector, float(entry.get("indexed_at", 0.0)))  # type: ignore[arg-type]

    def save(self, files: Sequence[IndexedFile], base_url: str) -> None:
        if self.folder is None:
            return
        try:
            self._write(files, base_url)
        except OSError as exc:
            logger.warning("document cache %s not written (the index still serves): %s", self.folder, exc)

    def _write(self, files: Sequence[IndexedFile], base_url: str) -> None:
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        entries: dict[str, dict[str, object]] = {}
        for f in files:
            vectors = self.folder / f"{f.digest}.npz"
            if not vectors.exists():
                _atomic(vectors, lambda h, f=f: np.savez(h, vectors=f.vectors, title=f.title_vector))
            entries[f.path] = {
                "digest": f.digest, "stamp": list(f.stamp), "doc_id": f.doc_id, "title": f.title,
                "url": f.url, "base_url": base_url, "indexed_at": f.indexed_at,
                "chunks": [{"heading": c.heading, "anchor": c.anchor, "text": c.text} for c in f.chunks],
            }
        text = json.dumps({"version": CACHE_VERSION, "files": entries})
        _atomic(self.folder / _MANIFEST, lambda h: h.write(text.encode("utf-8")))
        keep = {f"{f.digest}.npz" for f in files} | {_MANIFEST}
        for stale in self.folder.iterdir():
            if stale.name not in keep and stale.suffix in (".npz", ".json"):
                stale.unlink(missing_ok=True)
        self.entries = entries


def _atomic(path: Path, write: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)  # type: ignore[operator]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
