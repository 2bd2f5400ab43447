"""Customer feedback: thumbs on bot answers, CSAT after a hand-off, on every channel.

- :class:`Rating`: the record, stored with ``Store.add_rating``.
- :mod:`feedback.buttons`: the rating prompt as buttons every channel carries.
- :class:`FeedbackDesk`: offers prompts, takes presses, asks for CSAT
  (``[feedback]``; docs/feedback.md).
"""

from feedback.buttons import Press, press_of, rating_buttons, rating_kind, split_rating
from feedback.rating import Rating, RatingKind

__all__ = [
    "FeedbackDesk",
    "Press",
    "Rating",
    "RatingKind",
    "press_of",
    "rating_buttons",
    "rating_kind",
    "split_rating",
]


def __getattr__(name: str) -> object:
    if name == "FeedbackDesk":  # imports the hub's stages; the store imports this package
        from feedback.desk import FeedbackDesk

        return FeedbackDesk
    raise AttributeError(name)
