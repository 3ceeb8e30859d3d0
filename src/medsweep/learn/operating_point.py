"""The operating point: how a job's decision threshold is chosen (``eval.threshold``). A rule is chosen on
out-of-fold predictions of a training fold's rows only (training.inner_threshold) and applied unchanged to its
test fold. numpy only: the sweep's parent checks every job's rule before any job starts."""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np


THRESHOLD_RULES_ALLOWED = ("a probability strictly between 0 and 1 (e.g. 0.5), youden, "
                           "sensitivity>=x or specificity>=x with x in (0, 1]")


@dataclass(frozen=True)
class ThresholdRule:
    """How the decision threshold is chosen. kind: "fixed" (value: the probability), "youden",
    "sensitivity" or "specificity" (value: the target). str() gives the canonical text."""
    kind: str
    value: Optional[float] = None

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.value:g}"
        if self.kind == "youden":
            return "youden"
        return f"{self.kind}>={self.value:g}"


def _probability(text: str) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def parse_threshold_rule(value) -> ThresholdRule:
    """A threshold rule from a config value: a probability in (0, 1) (a number or numeric text),
    "youden", "sensitivity>=x" or "specificity>=x" with x in (0, 1] (case and spaces ignored).
    Raises ValueError saying what is allowed."""
    if isinstance(value, ThresholdRule):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
    elif isinstance(value, str):
        text = re.sub(r"\s+", "", value).lower()
        if text == "youden":
            return ThresholdRule("youden")
        target = re.fullmatch(r"(sensitivity|specificity)>=(.+)", text)
        if target:
            x = _probability(target.group(2))
            if x is None or not (0.0 < x <= 1.0):
                raise ValueError(f"the {target.group(1)} target must be a number in (0, 1]; "
                                 f"must be {THRESHOLD_RULES_ALLOWED}")
            return ThresholdRule(target.group(1), x)
        v = _probability(text)
        if v is None:
            raise ValueError(f"must be {THRESHOLD_RULES_ALLOWED}")
    else:
        raise ValueError(f"must be {THRESHOLD_RULES_ALLOWED} (got a {type(value).__name__})")
    if not (0.0 < v < 1.0):  # also NaN
        raise ValueError(f"a fixed threshold must be strictly between 0 and 1; must be {THRESHOLD_RULES_ALLOWED}")
    return ThresholdRule("fixed", v)


def threshold_candidates(y_bool, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sensitivity and specificity at every candidate threshold: the distinct scores, ascending
    (predicted positive iff p >= threshold). Returns (thresholds, sensitivity, specificity)."""
    y = np.asarray(y_bool, dtype=bool)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or not len(y) or not np.isfinite(p).all():
        raise ValueError("y_bool and p must be 1-D of the same length, with finite p")
    cand = np.unique(p)
    pos, neg = np.sort(p[y]), np.sort(p[~y])
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = (len(pos) - np.searchsorted(pos, cand, side="left")) / len(pos)
        spec = np.searchsorted(neg, cand, side="left") / len(neg)
    return cand, sens, spec


def choose_threshold(rule, y_bool, p) -> float:
    """The decision threshold that ``rule`` (a ThresholdRule or anything parse_threshold_rule accepts)
    gives on these rows (predicted positive iff p >= threshold). Pass out-of-fold predictions of training
    rows only: the threshold is then applied unchanged to the rows it is evaluated on.

      fixed probability   itself (the data are not looked at)
      youden              the candidate (distinct score) maximising sensitivity + specificity - 1;
                          ties: the highest such threshold (as the first maximum of roc_curve)
      sensitivity>=x      the highest candidate whose sensitivity >= x (the best specificity meeting it);
                          always exists (the lowest score gives sensitivity 1)
      specificity>=x      the lowest candidate whose specificity >= x (the best sensitivity meeting it);
                          if none (negatives at the highest score), the next float above the highest
                          score (nobody positive)
    Comparisons with x allow 1e-12 of rounding. Raises ValueError where the rule needs a class that the
    rows lack (youden: both; sensitivity: positives; specificity: negatives).
    """
    rule = parse_threshold_rule(rule)
    if rule.kind == "fixed":
        return float(rule.value)
    y = np.asarray(y_bool, dtype=bool)
    needs = {"youden": "both classes", "sensitivity": "positive rows", "specificity": "negative rows"}[rule.kind]
    if (rule.kind != "specificity" and not y.any()) or (rule.kind != "sensitivity" and y.all()):
        raise ValueError(f"threshold rule {rule} needs {needs}; got {int(y.sum())} positive of {len(y)} rows")
    t, sens, spec = threshold_candidates(y, p)
    if rule.kind == "youden":
        j = sens + spec - 1.0
        return float(t[len(j) - 1 - int(np.argmax(j[::-1]))])
    if rule.kind == "sensitivity":
        return float(t[np.flatnonzero(sens >= rule.value - 1e-12)[-1]])
    ok = np.flatnonzero(spec >= rule.value - 1e-12)
    return float(t[ok[0]]) if ok.size else float(np.nextafter(t[-1], np.inf))


# --------------------------------------------------------------------------------------------------------
# Subgroups and counts
# --------------------------------------------------------------------------------------------------------
