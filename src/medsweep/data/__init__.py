"""Where a model's data comes from, and how a table becomes features, target and patients.

- read.py: the one reader of users' files (CSV / delimited text / gzip / Parquet), whole (training, external
  validation) or in chunks (predict); the format rules are in _delimited.py and _parquet.py.
- sources.py: the data sources (a file, scikit-learn, bundled files, synthetic cohorts), one entry each.
- prepare.py: :class:`~medsweep.data.prepare.Dataset`, load_dataset, load_external; columns.py: its column
  rules (target, patients, identifiers, dates, copies of the target).
- cache.py: the parsed-table cache a sweep's jobs share (an explicit folder; no Hydra).
- synthetic.py (+ cohort_shapes.py): synthetic cohorts; errors.py: DataError.
"""
