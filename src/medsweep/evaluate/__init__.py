"""How good a job's predictions are, from its out-of-fold predictions alone (no models, no files).

metrics        the metric registry: each metric defined once (fold value, resampled value, direction, range)
scores         what the definitions read: confusion counts, ratios and ranks of a fold or of weighted resamples
bootstrap      patient bootstrap and jackknife as weight matrices; percentile and BCa intervals
calibration    calibration curve, slope, intercept, CITL, ECE (and their weighted forms for intervals)
decision_curve net benefit over thresholds
subgroups      performance per subgroup of a column, flagged against the overall value
counts         participants and events, overall and per test fold
evaluation     the public entry: evaluate_predictions assembles a job's evidence from the pieces above
selection      BBC-CV: the selected configuration's bias-corrected score
"""
