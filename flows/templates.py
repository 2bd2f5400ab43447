"""Templates and ``when`` expressions: Jinja2 in its sandboxed environment.

Admins write them in config.toml; they see ``slots``, ``result``, ``status``,
``customer`` (channel, name) and ``conversation`` (id, channel, tags).
Customer text only ever arrives as the *value* of a variable, never as
template source, so ``{{ 7*7 }}`` typed by a customer is printed as typed.
Compiled templates are cached per source string.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "compile_template", "compile_when", "parse", "render", "syntax_error", "test"]

_ENV = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1024)
def compile_template(source: str) -> Any:
    """A compiled template; raises TemplateSyntaxError."""
    return _ENV.from_string(source)


@lru_cache(maxsize=1024)
def compile_when(expression: str) -> Any:
    """A compiled expression (undefined names are None); raises TemplateSyntaxError."""
    return _ENV.compile_expression(expression, undefined_to_none=True)


def parse(source: str) -> Any:
    """The template's syntax tree (for :mod:`flows.check`); raises TemplateSyntaxError."""
    return _ENV.parse(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """The template rendered with ``context``; a failure at run time raises TemplateError."""
    return str(compile_template(source).render(**context)).strip()


def test(expression: str, context: Mapping[str, Any]) -> bool:
    """The truth of a ``when`` expression; raises TemplateError if it cannot be evaluated."""
    return bool(compile_when(expression)(**context))


def syntax_error(source: str, *, expression: bool = False) -> str | None:
    """Why ``source`` does not compile, or None."""
    try:
        (compile_when if expression else compile_template)(source)
    except TemplateSyntaxError as exc:
        return f"does not compile: {exc.message} (line {exc.lineno} of the template)"
    return None
