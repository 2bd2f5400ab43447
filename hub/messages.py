"""``[messages]``: every text the hub itself says to customers, in one table.

Rules, FAQ entries and the LLM say what the admins wrote; everything else (the
apology when something breaks, "no one is available", the hand-off queue, the
button for a person) comes from here, so a shop can reword or translate it.

``[messages.<lang>]`` sub-tables (``[messages.zh]``, ``[messages.pt-BR]``)
take the same keys; a key left out falls back to the default table.
:meth:`MessagesConfig.for_language` picks the texts for a language.

``contact`` is the shop's own route to a person (an e-mail address or a URL).
When no person can be reached through the hub (no agents channel, or the
agents are away), the customer is offered it through ``contact_route``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

__all__ = ["MessageTexts", "MessagesConfig", "fill"]

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"(https?://|mailto:|tel:)\S+")


def fill(template: str, **values: str) -> str:
    """Replace ``{name}`` placeholders; other braces are left as the admin wrote them."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


class MessageTexts(BaseModel):
    """The texts of one language. Placeholders in braces are filled by the hub."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contact: str = ""
    contact_route: str = "You can reach our team at {contact}."
    cannot_help: str = "Sorry, I can't help with that. Could you rephrase your question?"
    no_agents: str = "Sorry, there is no one from the team on this channel."
    no_agents_meanwhile: str = (
        "I'll do my best: could you tell me a little more about what you need?"
    )
    apology: str = "Sorry, something went wrong on our side. Please try again in a moment."
    llm_unavailable: str = "Our assistant is unavailable right now."
    still_working: str = "Still working on it…"
    queued: str = (
        "I've passed this on to our support team. A person will answer here, usually within {wait}."
    )
    expected_wait: str = "15 minutes"
    after_hours: str = (
        "Our team is away right now (we answer {hours}). A person will reply here when we're back."
    )
    resolved: str = "Your conversation was marked as resolved. Write again any time."
    returned: str = "You're back with the assistant. How can I help?"
    offer_button: Annotated[str, Field(min_length=1)] = "Talk to a person"
    dont_know: str = "I don't know the answer to that, and I'd rather not guess."
    llm_failed: str = "I couldn't find a good answer to that, so I'm passing you to a person."
    llm_over_budget: str = (
        "I've answered as much as I can in this chat, so I'm passing you to a person who can help."
    )
    other_language_note: str = "(This answer is only available in English.)"
    llm_refusal: str = (
        "I'm sorry, I can't give {topic} advice. For anything about your account or orders "
        "I'm happy to help, or a person from our team can take it from here."
    )

    @field_validator("contact")
    @classmethod
    def _email_or_url(cls, contact: str) -> str:
        contact = contact.strip()
        if contact and not (_EMAIL.fullmatch(contact) or _URL.fullmatch(contact)):
            raise ValueError(
                "expected an e-mail address or a URL (https://, mailto: or tel:), "
                f"got {contact!r}"
            )
        return contact

    @field_validator("contact_route")
    @classmethod
    def _names_the_contact(cls, text: str) -> str:
        if "{contact}" not in text:
            raise ValueError("must contain {contact}, where the address goes")
        return text

    # -- what the hub says, composed ----------------------------------------------
    def with_contact(self, text: str) -> str:
        """``text``, then the contact route when the shop has one."""
        if not self.contact:
            return text
        return f"{text} {fill(self.contact_route, contact=self.contact)}"

    def no_person(self, *, asked: bool) -> str:
        """A hand-off no one can take. ``asked``: the customer asked for a person, so
        the bot offers to keep trying; a rule's or the model's hand-off (a legal
        threat, a chargeback) gets no such promise."""
        text = self.with_contact(self.no_agents)
        return f"{text} {self.no_agents_meanwhile}" if asked else text

    def unavailable(self) -> str:
        """The assistant (the LLM) cannot answer at all right now."""
        return self.with_contact(self.llm_unavailable)


class MessagesConfig(MessageTexts):
    """``[messages]``: the default texts, and ``[messages.<lang>]`` tables."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, MessageTexts]
    _languages: dict[str, MessageTexts] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _sub_tables_are_languages(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key, value in data.items():
            if key in MessageTexts.model_fields:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"unknown key {key!r}")
            if not _LANGUAGE.fullmatch(key):
                raise ValueError(
                    f"[messages.{key}]: a language table is named by a language code "
                    '(e.g. "zh", "pt-BR")'
                )
        return data

    def model_post_init(self, context: Any, /) -> None:
        own = {name: getattr(self, name) for name in MessageTexts.model_fields}
        for lang, texts in (self.model_extra or {}).items():
            overrides = {name: getattr(texts, name) for name in texts.model_fields_set}
            self._languages[lang.lower()] = MessageTexts(**{**own, **overrides})

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with a table of their own."""
        return tuple(self._languages)

    def for_language(self, lang: str | None) -> MessageTexts:
        """The texts for ``lang`` ("zh-TW" falls back to "zh", then to the defaults)."""
        if lang:
            lang = lang.lower()
            found = self._languages.get(lang) or self._languages.get(lang.split("-")[0])
            if found is not None:
                return found
        return self
