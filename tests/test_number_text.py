"""One formatter of a record's figures for every model-card section (report/number_text.py): a count prints
as a count, a float with the section's decimals, what is not a finite number as "-"."""

import math
from fractions import Fraction

import numpy as np
import pytest

from medsweep.report import clinical_sections, model_card, model_card_clinical
from medsweep.report.number_text import number


@pytest.mark.parametrize("x, digits, text", [
    (303, 4, "303"), (0, 3, "0"), (-7, 2, "-7"), (10**20, 4, str(10**20)),                 # ints: never 303.0000
    (np.int64(303), 4, "303"), (np.uint8(7), 3, "7"), (np.int32(-2), 1, "-2"),            # numpy's ints too
    (0.78125, 4, "0.7812"), (0.78125, 3, "0.781"), (2 / 3, 1, "0.7"), (49.6, 0, "50"),    # round half even, as f-strings
    (303.0, 4, "303.0000"), (-0.25, 2, "-0.25"),                                            # a float stays a float
    (np.float64(0.5), 3, "0.500"), (np.float32(0.5), 4, "0.5000"), (Fraction(1, 8), 3, "0.125"),
    (math.nan, 4, "-"), (np.nan, 3, "-"), (math.inf, 4, "-"), (-math.inf, 3, "-"), (np.float32("nan"), 4, "-"),
    (None, 4, "-"), (True, 4, "-"), (False, 3, "-"), (np.True_, 4, "-"),                  # a bool is no figure
    ("0.5", 4, "-"), ("<img src=x>", 3, "-"), ([1], 4, "-"), (1 + 2j, 4, "-"),            # text where a number belongs
])
def test_number(x, digits, text):
    assert number(x, digits) == text


@pytest.mark.parametrize("module, digits", [(model_card, 4), (model_card_clinical, 3), (clinical_sections, 3)])
def test_every_card_section_formats_with_it_at_its_own_decimals(module, digits):
    # Before, model_card_clinical printed a count of 303 patients as 303.000, model_card printed a bool as True
    # and text from the file escaped, clinical_sections printed numpy's float32 unrounded.
    for x in (303, np.int64(303), 0.123456, np.float32(0.5), math.nan, None, True, "x"):
        assert module._num(x) == number(x, digits)
    assert module._num(303) == "303" and module._num(0.5, 1) == "0.5"
