"""Help-center articles from files: Markdown, HTML, plain text and PDF.

:func:`read_article` turns one file into an :class:`Article`: a title, a public
URL, and its sections in order, each with its heading path ("Returns ›
Refund times"), an anchor and its text. Markdown is read with markdown-it-py
(optional front matter: ``title``, ``url``), HTML with selectolax (``<title>``,
``<link rel=canonical>``; scripts, styles, navigation, headers, footers and
forms are dropped), PDF with pypdf (one section per page). A file that cannot
be read raises :class:`DocumentError` naming the path and why.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

__all__ = [
    "MAX_FILE_BYTES",
    "SUFFIXES",
    "Article",
    "DocumentError",
    "Section",
    "doc_id_of",
    "parse_article",
    "read_article",
    "slug",
]

logger = logging.getLogger(__name__)

# A help-center article is kilobytes; past this a file is an export gone wrong.
MAX_FILE_BYTES = 8 * 1024 * 1024
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
            ".txt": "text", ".text": "text", ".pdf": "pdf"}
SEPARATOR = " › "


class DocumentError(Exception):
    """A source file that cannot be indexed; ``str()`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading path."""

    path: tuple[str, ...]
    anchor: str
    text: str

    @property
    def heading(self) -> str:
        return SEPARATOR.join(self.path)


@dataclass(frozen=True, slots=True)
class Article:
    """One source document: ``doc_id`` is its file name without the extension."""

    doc_id: str
    source: str
    title: str
    url: str
    sections: tuple[Section, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


def doc_id_of(path: str | Path) -> str:
    return Path(path).stem


def read_article(path: Path, base_url: str = "") -> Article:
    """Parse one file; raise DocumentError if it is too big, binary, empty or unreadable."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DocumentError(str(path), f"unsupported file type {path.suffix!r}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentError(str(path), f"{size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return parse_article(data, kind, str(path), base_url)


def parse_article(data: bytes, kind: str, source: str, base_url: str = "") -> Article:
    """Parse file content of ``kind`` ("markdown", "html", "text", "pdf")."""
    doc_id = doc_id_of(source)
    if kind == "pdf":
        title, url, sections = _pdf(data, source)
    else:
        text = _decode(data, source)
        if kind == "markdown":
            title, url, sections = _markdown(text, source)
        elif kind == "html":
            title, url, sections = _html(text)
        else:
            title, url, sections = _plain(text)
    sections = tuple(s for s in sections if s.text.strip())
    if not sections:
        raise DocumentError(source, "no text to index (empty file?)")
    title = _clean(title) or _first_heading(sections) or doc_id.replace("-", " ").replace("_", " ")
    sections = tuple(_under_title(s, title) for s in sections)
    return Article(doc_id, source, title, url or _url(base_url, doc_id), sections)


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:65536]:
        raise DocumentError(source, "binary content (NUL bytes), not a text document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(source, f"not UTF-8 text (byte {exc.start})") from None
    printable = sum(1 for c in text[:4096] if c.isprintable() or c in "\n\r\t")
    if text and printable < 0.9 * min(len(text), 4096):
        raise DocumentError(source, "mostly control characters, not a text document")
    return text


def _url(base_url: str, doc_id: str) -> str:
    return f"{base_url.rstrip('/')}/{doc_id}" if base_url else ""


def slug(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r" ", "-", text)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _first_heading(sections: tuple[Section, ...]) -> str:
    return next((s.path[0] for s in sections if s.path), "")


def _under_title(section: Section, title: str) -> Section:
    """Every heading path starts with the article's title."""
    if section.path and section.path[0] == title:
        return section
    return Section((title, *section.path), section.anchor, section.text)


# -- Markdown ------------------------------------------------------------------------

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MD = MarkdownIt("commonmark").enable("table")
_BLOCK_CLOSE = {"paragraph_close", "fence", "code_block", "html_block", "tr_close", "list_item_close"}


def _markdown(text: str, source: str) -> tuple[str, str, list[Section]]:
    meta, body = _front_matter(text, source)
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    pending: list[str] = []
    tokens = _MD.parse(body)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            _flush(sections, path, lines)
            level = int(token.tag[1])
            heading = _clean(tokens[i + 1].content)
            path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
            i += 3
            continue
        if token.type == "inline":
            pending.append(_inline_text(token))
        elif token.type in ("fence", "code_block", "html_block"):
            pending.append(token.content.strip())
        if token.type in _BLOCK_CLOSE or token.type.endswith("cell_close"):
            if pending:
                lines.append(" ".join(p for p in pending if p))
                pending = []
        i += 1
    if pending:
        lines.append(" ".join(pending))
    _flush(sections, path, lines)
    return str(meta.get("title", "")), str(meta.get("url", "") or meta.get("canonical", "")), sections


def _front_matter(text: str, source: str) -> tuple[dict[str, object], str]:
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        logger.warning("%s: front matter ignored, not valid YAML: %s", source, str(exc).replace("\n", " "))
        return {}, text[match.end():]
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def _inline_text(token: object) -> str:
    children = getattr(token, "children", None) or []
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def _flush(sections: list[Section], path: list[tuple[int, str]], lines: list[str]) -> None:
    text = "\n".join(line for line in lines if line)
    if text.strip():
        heading = tuple(h for _, h in path)
        sections.append(Section(heading, slug(heading[-1]) if heading else "", text))
    lines.clear()


# -- HTML ----------------------------------------------------------------------------

_JUNK = "script, style, noscript, nav, header, footer, aside, form, iframe, svg, template, button"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "li", "pre", "td", "th", "blockquote", "dd", "dt", "figcaption", "caption"}


def _html(text: str) -> tuple[str, str, list[Section]]:
    tree = HTMLParser(text)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    canonical = tree.css_first('link[rel="canonical"]')
    url = (canonical.attributes.get("href") or "") if canonical else ""
    for node in tree.css(_JUNK):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        return title, url, []
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    for node in _blocks(root):
        if node.tag in _HEADINGS:
            _flush(sections, path, lines)
            level = int(node.tag[1])
            heading = _clean(node.text(separator=" "))
            path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
            continue
        line = _clean(node.text(separator=" "))
        if line:
            lines.append(line)
    _flush(sections, path, lines)
    if not sections:
        loose = _clean(root.text(separator=" "))
        sections = [Section((), "", loose)] if loose else []
    return title, url, sections


def _blocks(root: Node) -> Iterator[Node]:
    """Headings and outermost text blocks, in document order."""
    for node in root.traverse(include_text=False):
        if node.tag in _HEADINGS:
            yield node
        elif node.tag in _BLOCKS and not _inside_block(node, root):
            yield node


def _inside_block(node: Node, root: Node) -> bool:
    parent = node.parent
    while parent is not None and parent is not root and parent.tag != root.tag:
        if parent.tag in _BLOCKS or parent.tag in _HEADINGS:
            return True
        parent = parent.parent
    return False


# -- plain text and PDF ----------------------------------------------------------------


def _plain(text: str) -> tuple[str, str, list[Section]]:
    paragraphs = [_clean(p) for p in re.split(r"\n\s*\n", text)]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        return "", "", []
    first = paragraphs[0]
    title = first if len(first) <= 120 and len(paragraphs) > 1 else ""
    body = paragraphs[1:] if title else paragraphs
    return title, "", [Section((), "", "\n".join(body))]


def _pdf(data: bytes, source: str) -> tuple[str, str, list[Section]]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(source, f"not a readable PDF: {exc}") from None
    if not any(p.strip() for p in pages):
        raise DocumentError(source, f"PDF without a text layer ({len(pages)} pages; scanned?)")
    sections = [
        Section((f"Page {n}",), f"page={n}", "\n".join(_clean(line) for line in text.splitlines() if line.strip()))
        for n, text in enumerate(pages, start=1)
        if text.strip()
    ]
    return str(meta_title), "", sections
