"""What was missing? Per feature, the share of rows missing overall, by outcome class (classification) and by
site (``data.site``, when there is one), and the imputation the preprocessing used: metrics.json's
``missing_data`` (TRIPOD+AI item 9; PROBAST+AI's predictors domain). A share that differs between classes says
the missingness itself carries information about the outcome (not missing completely at random)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

# What each preprocess.impute does to numbers; text is always imputed with its most frequent value.
IMPUTATION = {
    "median": "median of the training fold",
    "iterative": "scikit-learn's IterativeImputer (BayesianRidge, 10 rounds, from the medians) fitted on the "
                 "training fold",
    "indicator": "median of the training fold, plus a 0/1 missingness column per feature missing in it",
}
TEXT_IMPUTATION = "most frequent value of the training fold"


def _shares(missing: pd.DataFrame, by: Optional[pd.Series]) -> dict:
    """{feature: {group: share missing}} (group as text, in sorted order); {} without ``by``."""
    if by is None:
        return {}
    keys = by.astype(object).where(by.notna(), "missing").astype(str).to_numpy()
    table = missing.groupby(keys, sort=True).mean()
    return {feature: {str(g): float(v) for g, v in table[feature].items()} for feature in missing.columns}


def missing_data_record(X: pd.DataFrame, y: Optional[pd.Series], task: str, impute: str,
                        site: Optional[pd.Series] = None, site_column: Optional[str] = None) -> dict:
    """metrics.json's ``missing_data`` of the development data ``X`` (features, as the model reads them), its
    outcome ``y`` and, optionally, each row's ``site``: {"imputation": {"setting", "numeric", "text",
    "fitted"}, "rows", "complete_rows", "site", "features": [{"feature", "kind", "missing", "share",
    "by_class", "by_site"}]} (by_class: classification only; by_site: with a site)."""
    missing = X.isna()
    by_class = _shares(missing, y) if task == "classification" and y is not None else {}
    by_site = _shares(missing, site) if site is not None else {}
    kinds = {c: "numeric" if pd.api.types.is_numeric_dtype(X[c]) else "text" for c in X.columns}
    features = []
    for column in X.columns:
        count = int(missing[column].sum())
        features.append({"feature": str(column), "kind": kinds[column], "missing": count,
                         "share": count / len(X) if len(X) else None,
                         "by_class": by_class.get(column) if by_class else None,
                         "by_site": by_site.get(column) if by_site else None})
    return {"imputation": {"setting": f"preprocess.impute={impute}", "numeric": IMPUTATION[impute],
                           "text": TEXT_IMPUTATION,
                           "fitted": "inside each training fold (the final model: on all development rows)"},
            "rows": int(len(X)), "complete_rows": int((~missing.any(axis=1)).sum()),
            "site": site_column, "features": features}


def missing_summary(record: dict, most: int = 5) -> str:
    """One line for train.log: the features most often missing and the imputation."""
    worst = sorted((f for f in record["features"] if f["missing"]), key=lambda f: -f["share"])
    if not worst:
        return f"Missing data: none in {record['rows']} rows ({record['imputation']['setting']})"
    shown = ", ".join(f"{f['feature']} {100 * f['share']:.1f}%" for f in worst[:most])
    more = f" and {len(worst) - most} more" if len(worst) > most else ""
    return (f"Missing data: {len(worst)} feature(s) with missing values ({shown}{more}); "
            f"{record['complete_rows']} of {record['rows']} rows complete; numbers imputed with the "
            f"{record['imputation']['numeric']}")


def class_difference(feature: dict) -> Optional[float]:
    """The largest difference in the share missing between outcome classes (None without classes)."""
    shares = list((feature.get("by_class") or {}).values())
    return float(np.max(shares) - np.min(shares)) if len(shares) >= 2 else None
