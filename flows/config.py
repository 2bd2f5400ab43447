"""The ``[flows]`` and ``[actions.NAME]`` tables of config.toml, as frozen objects.

These models check the shape of each table (types, exclusive keys, URL
schemes, regexes). Whether the pieces fit together (a ``goto`` to a step that
exists, an action that is declared, templates that compile) is checked by
:func:`flows.check.flow_problems`, which names the key path and the line.

This module imports nothing from ``hub`` so that ``hub.config`` can embed it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ActionConfig",
    "BranchConfig",
    "ExpectConfig",
    "FlowButtonConfig",
    "FlowConfig",
    "FlowsConfig",
    "ParamConfig",
    "StepConfig",
]

_PLUGIN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$|^[A-Za-z_][\w.-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlowButtonConfig(_Section):
    label: Annotated[str, Field(min_length=1)]
    value: Annotated[str, Field(min_length=1)]


class ExpectConfig(_Section):
    """What an answer must look like: exactly one of ``pattern``, ``choice``, ``kind``."""

    pattern: str | None = None
    choice: tuple[Annotated[str, Field(min_length=1)], ...] | None = None
    kind: Literal["email", "number"] | None = None

    @field_validator("pattern")
    @classmethod
    def _valid_regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _exactly_one(self) -> ExpectConfig:
        given = [k for k in ("pattern", "choice", "kind") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("expect needs exactly one of pattern, choice or kind")
        if self.choice is not None and not self.choice:
            raise ValueError("choice needs at least one value")
        return self


class BranchConfig(_Section):
    """One entry of a step's ``next``: go to ``goto`` when ``when`` holds (or always)."""

    when: str | None = None
    goto: Annotated[str, Field(min_length=1)]


class StepConfig(_Section):
    """One step: ask for a slot, call an action, or say something."""

    id: Annotated[str, Field(min_length=1)]
    ask: str = ""
    slot: str = ""
    expect: ExpectConfig | None = None
    retry: str = ""
    max_retries: Annotated[int, Field(ge=0, le=20)] = 2
    call: str = ""
    next: tuple[BranchConfig, ...] = ()
    say: str = ""
    buttons: tuple[FlowButtonConfig, ...] = ()
    end: bool = False

    @property
    def kind(self) -> Literal["ask", "call", "say"]:
        if self.ask:
            return "ask"
        return "call" if self.call else "say"

    @model_validator(mode="after")
    def _one_kind(self) -> StepConfig:
        kinds = [k for k in ("ask", "call", "say") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(f"step {self.id!r} needs exactly one of ask, call or say")
        if self.ask and not self.slot:
            raise ValueError(f"step {self.id!r}: ask needs a slot to fill")
        if self.slot and not self.ask:
            raise ValueError(f"step {self.id!r}: slot is only for ask steps")
        if self.end and self.next:
            raise ValueError(f"step {self.id!r}: a step with end = true has no next")
        if self.end and self.ask:
            raise ValueError(f"step {self.id!r}: an ask step cannot end the flow")
        return self


class FlowConfig(_Section):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    steps: tuple[StepConfig, ...] = Field(min_length=1)


DEFAULT_CANCEL_PHRASES = ("cancel", "stop", "never mind")


class FlowsConfig(_Section):
    """Settings for every flow, and the flows themselves (``[[flows.list]]``)."""

    cancel_phrases: tuple[str, ...] = DEFAULT_CANCEL_PHRASES
    expire_after_s: Annotated[float, Field(gt=0)] = 900.0
    cancel_message: str = "OK, I've stopped that. Anything else I can help with?"
    failure_message: str = (
        "Sorry, I can't reach our order system right now. Shall I pass you to a person?"
    )
    not_found_message: str = "I couldn't find {{ value }}. Please check it and try again."
    max_steps: Annotated[int, Field(ge=1, le=200)] = 50
    list: tuple[FlowConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> FlowsConfig:
        names = [f.name for f in self.list]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate flow names: {', '.join(dupes)}")
        return self

    def get(self, name: str) -> FlowConfig | None:
        return next((f for f in self.list if f.name == name), None)


class ParamConfig(_Section):
    """One parameter of an action offered to the LLM as a tool (JSON Schema subset)."""

    type: Literal["string", "number", "integer", "boolean"] = "string"
    description: str = ""
    required: bool = True
    enum: tuple[str, ...] = ()


Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class ActionConfig(_Section):
    """``[actions.NAME]``: an HTTP call to the shop's systems, or a Python plugin."""

    url: str = ""
    method: Method = "GET"
    headers_env: dict[str, str] = {}
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 3.0
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    secret_env: str = ""
    python: str = ""
    description: str = ""
    params: dict[str, ParamConfig | str] = {}
    failure_message: str = ""
    breaker_failures: Annotated[int, Field(ge=1)] = 5
    breaker_reset_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, method: object) -> object:
        return method.upper() if isinstance(method, str) else method

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        return url

    @field_validator("python")
    @classmethod
    def _plugin_name(cls, python: str) -> str:
        if python and not _PLUGIN.match(python):
            raise ValueError(
                f'expected "package.module:function" or an entry-point name, got {python!r}'
            )
        return python

    @model_validator(mode="after")
    def _one_kind(self) -> ActionConfig:
        if bool(self.url) == bool(self.python):
            raise ValueError("an action needs exactly one of url or python")
        return self

    @property
    def is_tool(self) -> bool:
        """Offered to the LLM tiers as a tool (it has a description)."""
        return bool(self.description)

    def param(self, name: str) -> ParamConfig:
        value = self.params[name]
        return ParamConfig(description=value) if isinstance(value, str) else value
