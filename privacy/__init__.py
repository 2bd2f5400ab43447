"""Privacy: masked transcripts, retention, and a customer's export and erasure.

- :func:`mask` (``[privacy] mask_transcripts``): the LLM scrubber's detectors.
"""

from privacy.mask import mask, masked_entry, masked_preview

__all__ = ["mask", "masked_entry", "masked_preview"]
