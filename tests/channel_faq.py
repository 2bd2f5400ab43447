"""A small FAQ for the channel tests; its answers carry characters platforms must escape."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHANNEL_FAQ", "PAYMENT_ANSWER", "write_channel_faq"]

PAYMENT_ANSWER = "Cards, PayPal & Klarna_Pay [*no fees*]."

CHANNEL_FAQ = f"""
[[entries]]
id = "shipping-times"
question = "How long does shipping take?"
answer = {{ text = "Two to four working days.", buttons = [{{ label = "Track my order", value = "where is my order" }}] }}
examples = ["when will my order arrive", "delivery time", "how many days for delivery"]

[[entries]]
id = "payment-methods"
question = "Which payment methods do you accept?"
answer = "{PAYMENT_ANSWER}"
examples = ["can I pay with paypal", "do you take credit cards", "payment options"]

[[entries]]
id = "password-reset"
question = "How do I reset my password?"
answer = "Use Forgot password on the sign-in page."
examples = ["I forgot my password", "can't log in", "locked out of my account"]
"""


def write_channel_faq(folder: Path) -> Path:
    path = folder / "faq.toml"
    path.write_text(CHANNEL_FAQ, encoding="utf-8")
    return path
