"""What people read about jobs and sweeps, built from the files jobs wrote (through medsweep.record); imports
nothing above it (job, tools, tracking, cli).

- summarize: summarize_sweep writes summary.csv/.json/.md/.png and report.html of a sweep
- reading: a sweep's job files, checked for damage; table: records -> rows and leaderboard tables (pure);
  ranking: the one ranking rule; cells: the figures' text shared by the renderers
- text (terminal leaderboard), markdown (summary.md), html + templates/ (report.html, Jinja2), sweep_plot
  (summary.png); tracking_line: the tracking line from tracking.json
- compare (corrected resampled t-test, which jobs pair), compare_dirs (two jobs or sweeps, in sentences)
- plots (a job's PNGs), model_card (a job's model_card.md)
"""
