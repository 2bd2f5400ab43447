"""``hub kb import`` and ``hub eval``: build an FAQ from data, measure the matcher.

The lead's ``hub/cli.py`` calls :func:`register` with its argparse
subparsers; each handler takes the parsed Namespace and returns an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from hub.config import KBConfig
from hub.errors import ConfigError
from hub.language import SUPPORTED_CODES
from kb.documents.cli import cmd_eval_docs
from kb.documents.cli import register as register_documents
from kb.evaluate import evaluate, plot_sweep, score, sweep
from kb.faq import load_faq
from kb.importer import LABEL_COLUMNS, faq_to_toml, import_csv, read_labelled, read_texts

__all__ = ["DEFAULT_THRESHOLD", "cmd_eval", "cmd_kb_import", "register"]

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD: float = KBConfig().threshold
_LABELS = f"{LABEL_COLUMNS[0]} (or {', '.join(LABEL_COLUMNS[1:])})"


def register(subparsers: Any) -> None:
    """Add ``kb`` (with ``import``) and ``eval`` to an argparse subparsers object."""
    kb = subparsers.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    imp = kb_sub.add_parser("import", help=f"build an FAQ file from a CSV with columns text and {_LABELS}")
    imp.add_argument("file", type=Path, help=f"CSV with a text column and a {_LABELS} column, one row per "
                     "phrasing (BANKING77's text,category works as is)")
    imp.add_argument("--out", type=Path, required=True, help="FAQ TOML file to write")
    imp.add_argument("--answers", type=Path, help=f"CSV with columns {_LABELS} and answer; without it every "
                     "answer is a placeholder that the hub never sends")
    imp.add_argument("--lang", default="", metavar="CODE",
                     help='language of the phrasings (ISO 639-1, e.g. "zh"): written into the file as '
                          '`language = "zh"`, so the matcher reads them as that language (docs/languages.md)')
    imp.set_defaults(func=cmd_kb_import)
    register_documents(kb_sub)

    ev = subparsers.add_parser("eval", help="measure the knowledge base on labelled queries")
    ev.add_argument("--kb", type=Path, help="FAQ TOML file (required without --docs)")
    ev.add_argument("--docs", action="store_true",
                    help="measure the documents [kb] documents names in --config instead (queries: text,doc_id)")
    ev.add_argument("--config", default="config.toml", metavar="PATH", help="config file, for --docs")
    ev.add_argument("--queries", type=Path, required=True, help="CSV with columns text,label (text,doc_id with --docs)")
    ev.add_argument("--oos", type=Path, help="CSV with a text column the FAQ must not answer")
    ev.add_argument("--threshold", type=float, default=None,
                    help=f"answer at or above this confidence (default {DEFAULT_THRESHOLD:g}, as the hub; "
                         "with --docs, the config's [kb] documents_threshold)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--sweep", action="store_true", help="print coverage/precision across thresholds")
    ev.add_argument("--plot", type=Path, help="draw the sweep to this PNG (matplotlib)")
    ev.set_defaults(func=cmd_eval)


def cmd_kb_import(args: argparse.Namespace) -> int:
    lang = (args.lang or "").strip()
    if lang and lang.split("-")[0].lower() not in SUPPORTED_CODES:
        print(f'error: --lang: unknown language code {lang!r}; use ISO 639-1 codes like "zh"', file=sys.stderr)
        return 2
    try:
        faq = import_csv(args.file, args.answers, language=lang)
    except ConfigError as exc:
        return _fail(exc)
    header = f"Imported by `hub kb import` from {args.file.name}: {len(faq)} entries."
    if lang:
        header += f"\nLanguage {lang}: serve it from faq.{lang}.toml beside the [kb] path FAQ (docs/languages.md)."
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(faq_to_toml(faq, header), encoding="utf-8")
    examples = sum(len(e.examples) for e in faq)
    print(f"wrote {args.out}: {len(faq)} entries, {examples} examples")
    return 0


def cmd_eval(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        print("error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    if getattr(args, "docs", False):
        return cmd_eval_docs(args, out)
    if args.kb is None:
        print("error: hub eval needs --kb FAQ.toml (or --docs)", file=sys.stderr)
        return 2
    if args.threshold is None:
        args.threshold = DEFAULT_THRESHOLD
    if not 0.0 <= args.threshold <= 1.0:
        print("error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        faq = load_faq(args.kb)
        queries = read_labelled(args.queries)
        oos = read_texts(args.oos) if args.oos else None
    except ConfigError as exc:
        return _fail(exc)
    result = evaluate(faq, queries, oos, progress=True)
    figures = score(result, args.threshold)
    rows = sweep(result) if args.sweep or args.plot else []
    if args.plot:
        plot_sweep(rows, args.plot, args.threshold)
    if args.json:
        if rows:
            figures["sweep"] = rows
        print(json.dumps(figures), file=out)
        return 0
    _print_figures(figures, out)
    if args.sweep:
        _print_sweep(rows, out)
    if args.plot:
        print(f"plot written to {args.plot}", file=out)
    return 0


def _print_figures(figures: dict[str, Any], out: TextIO) -> None:
    for key, value in figures.items():
        print(f"{key:>17}: {value}", file=out)


def _print_sweep(rows: list[dict[str, Any]], out: TextIO) -> None:
    has_oos = "oos_false_accept" in rows[0]
    print("\nthreshold  coverage  precision" + ("  oos_false_accept" if has_oos else ""), file=out)
    for row in rows:
        precision = "-" if row["precision"] is None else f"{row['precision']:.4f}"  # nothing answered
        line = f"{row['threshold']:>9.2f}  {row['coverage']:>8.3f}  {precision:>9}"
        if has_oos:
            line += f"  {row['oos_false_accept']:>16.3f}"
        print(line, file=out)


def _fail(exc: ConfigError) -> int:
    for problem in exc.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1
