"""A user's end-of-sweep callback, for tests: records that it ran."""

from pathlib import Path

from hydra.experimental.callback import Callback


class RecordSweepEnd(Callback):
    def on_multirun_end(self, config, **kwargs):
        Path(config.hydra.sweep.dir, "callback_ran").write_text("on_multirun_end\n")
