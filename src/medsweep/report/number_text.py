"""A figure of a job's record as text, one rule for every section of the model card (model_card.py,
model_card_clinical.py, clinical_sections.py): a count prints as a count (303, never 303.0000), a float with the
caller's decimals, anything that is not a finite number as "-". The text is digits, a point and a sign only, so
it needs no escaping in Markdown or HTML."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def number(x: Any, digits: int) -> str:
    """``x`` as text: an int (Python's or numpy's) as written; a float (numpy's too) with ``digits`` decimals;
    "-" for None, NaN, an infinity, a bool and anything else (text where a number belongs: a damaged or
    foreign metrics.json)."""
    if isinstance(x, bool) or not isinstance(x, Real):  # numpy's bool is no Real
        return "-"
    if isinstance(x, Integral):
        return str(int(x))
    value = float(x)
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"
