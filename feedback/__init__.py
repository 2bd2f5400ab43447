"""Customer feedback: thumbs on bot answers, CSAT after a hand-off, on every channel.

:class:`Rating` is the record (stored with ``Store.add_rating``).
"""

from feedback.rating import Rating, RatingKind

__all__ = ["Rating", "RatingKind"]
