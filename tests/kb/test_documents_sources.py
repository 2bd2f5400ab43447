"""Articles from files: titles, URLs, heading paths; bad files are reported, not fatal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter

from kb.documents.chunks import MAX_CHARS, chunk_article
from kb.documents.sources import DocumentError, parse_article, read_article

MARKDOWN = """---
title: Returns and refunds
url: https://help.example/returns
---
# Returns

Send it back within 30 days.

## Refund times

- Cards: 5 days
- PayPal: 2 days
"""

HTML = """<html><head><title>Shipping</title>
<link rel="canonical" href="https://help.example/shipping">
<script>var tracking = "buy now buy now";</script><style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> <a href="/cart">Cart checkout login</a></nav>
<header>Big banner</header>
<main><h1>Shipping</h1><p>Parcels leave the same day.</p>
<h2>Express</h2><p>Next day for <b>9.95 EUR</b>.</p></main>
<footer>Copyright cookie settings</footer></body></html>"""


def test_markdown_front_matter_gives_title_url_and_heading_paths() -> None:
    article = parse_article(MARKDOWN.encode(), "markdown", "help/returns.md")
    assert article.doc_id == "returns"
    assert article.title == "Returns and refunds"
    assert article.url == "https://help.example/returns"
    headings = [s.heading for s in article.sections]
    assert headings == ["Returns and refunds › Returns", "Returns and refunds › Returns › Refund times"]
    assert article.sections[1].anchor == "refund-times"
    assert "PayPal: 2 days" in article.sections[1].text


def test_base_url_covers_articles_without_one() -> None:
    article = parse_article(b"# Sizes\n\nJackets run small.\n", "markdown", "kb/help/sizes.md", "https://h.example/a/")
    assert article.url == "https://h.example/a/sizes"
    assert article.title == "Sizes"
    chunk = chunk_article(article)[0]
    assert chunk.link == "https://h.example/a/sizes#sizes"


def test_html_drops_scripts_navigation_and_footer() -> None:
    article = parse_article(HTML.encode(), "html", "exports/shipping.html")
    assert article.title == "Shipping"
    assert article.url == "https://help.example/shipping"
    text = article.text
    assert "Parcels leave the same day." in text and "9.95 EUR" in text
    for junk in ("buy now", "checkout", "banner", "cookie", "color"):
        assert junk not in text
    assert [s.heading for s in article.sections][-1] == "Shipping › Express"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"", "no text"),
        ("blank.md", b"\n\n   \n", "no text"),
        ("binary.md", bytes(range(256)) * 40, "binary"),
        ("latin1.md", "caf\xe9 ".encode("latin-1") * 10, "not UTF-8"),
        ("blank.pdf", None, "without a text layer"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ],
)
def test_bad_files_raise_a_document_error_naming_the_path(tmp_path: Path, name: str, data: bytes | None,
                                                          reason: str) -> None:
    path = tmp_path / name
    if data is None:
        writer = PdfWriter()
        writer.add_blank_page(200, 200)
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    path.write_bytes(data)
    with pytest.raises(DocumentError) as caught:
        read_article(path)
    assert caught.value.path == str(path)
    assert reason in caught.value.reason


def test_a_50_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # 50 MB, sparse: nothing written to disk
    with pytest.raises(DocumentError, match="limit"):
        read_article(path)


def test_long_sections_are_cut_with_overlap_and_keep_their_heading() -> None:
    sentences = " ".join(f"Sentence number {i} tells about tents and poles." for i in range(200))
    article = parse_article(f"# Tents\n\n## Poles\n\n{sentences}\n".encode(), "markdown", "tents.md")
    chunks = chunk_article(article)
    assert len(chunks) > 3
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(c.heading == "Tents › Poles" and c.anchor == "poles" for c in chunks)
    tail = chunks[0].text[-60:]
    assert tail.split(" ", 1)[1] in chunks[1].text  # the overlap carries the end of the last one over


def test_duplicate_passages_within_an_article_are_kept_once() -> None:
    article = parse_article(b"# A\n\nSame text.\n\n# A\n\nSame text.\n", "markdown", "a.md")
    assert len(chunk_article(article)) == 1


def _pdf_with_text(text: str) -> bytes:
    """A one-page PDF with a text layer, written by hand (objects, then a correct xref table)."""
    stream = f"BT /F1 12 Tf 20 200 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_with_a_text_layer_becomes_one_section_per_page(tmp_path: Path) -> None:
    path = tmp_path / "rental-manual.pdf"
    path.write_bytes(_pdf_with_text("Tents can be rented for 29 EUR a weekend."))
    article = read_article(path, "https://help.example/manuals")
    assert article.doc_id == "rental-manual"
    assert "Tents can be rented for 29 EUR a weekend." in article.text
    assert article.sections[0].anchor == "page=1"
    assert chunk_article(article)[0].link == "https://help.example/manuals/rental-manual#page=1"
