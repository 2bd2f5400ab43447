"""Privacy: masked transcripts, retention, and a customer's export and erasure.

- :func:`mask` (``[privacy] mask_transcripts``): the LLM scrubber's detectors.
- :func:`sweep` / :class:`RetentionSweeper` (``[privacy] retention_days``).
- :func:`export_customer` / :func:`forget_customer` (``hub privacy export|forget``
  and the console's button).
"""

from privacy.customer import ForgetReport, customer_ref, export_customer, forget_customer
from privacy.mask import mask, masked_entry, masked_preview
from privacy.retention import SWEEP_EVERY_S, RetentionSweeper, sweep

__all__ = [
    "SWEEP_EVERY_S",
    "ForgetReport",
    "RetentionSweeper",
    "customer_ref",
    "export_customer",
    "forget_customer",
    "mask",
    "masked_entry",
    "masked_preview",
    "sweep",
]
