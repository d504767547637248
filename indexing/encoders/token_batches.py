"""The order the text encoders (torch and ONNX) run their texts in: most tokens first, so each batch pads
only to its own longest text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

COUNT_SLICE = 1024  # texts tokenized together to count their tokens


def most_tokens_first(texts: Sequence[str], count_tokens: Callable[[list[str]], list[int]]) -> np.ndarray:
    """Indices of `texts`, most tokens first (ties keep their order).

    `count_tokens` gets the texts in slices of `COUNT_SLICE`, so one huge call never holds every text's
    token ids at once.
    """
    lengths: list[int] = []
    for start in range(0, len(texts), COUNT_SLICE):
        lengths += count_tokens(list(texts[start : start + COUNT_SLICE]))
    return np.argsort([-n for n in lengths], kind="stable")
