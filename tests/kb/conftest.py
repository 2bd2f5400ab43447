"""Small FAQs for the knowledge-base tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_FAQ = '''
[[entries]]
id = "shipping-times"
question = "How long does shipping take?"
answer = "Two to four working days."
examples = ["when will my order arrive", "delivery time", "how many days for delivery"]

[[entries]]
id = "returns"
question = "How do I return an item?"
answer = { text = "Within 30 days.", buttons = [{ label = "Start a return", value = "start return" }] }
examples = ["I want to send something back", "return policy", "can I get a refund"]

[[entries]]
id = "password-reset"
question = "How do I reset my password?"
answer = "Use Forgot password on the sign-in page."
examples = ["I forgot my password", "can't log in", "locked out of my account"]
channels = ["webchat"]

[[entries]]
id = "payment-methods"
question = "Which payment methods do you accept?"
answer = "Cards, PayPal and Klarna."
examples = ["can I pay with paypal", "do you take credit cards", "payment options"]
'''


@pytest.fixture
def faq_path(tmp_path: Path) -> Path:
    path = tmp_path / "faq.toml"
    path.write_text(SMALL_FAQ, encoding="utf-8")
    return path
