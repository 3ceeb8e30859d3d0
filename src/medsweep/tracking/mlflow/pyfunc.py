"""The MLflow model of a medsweep job, registered by ``tracking.register_best=true``.

MLflow "models from code": this file is copied into the logged model and run when the model is loaded, so
nothing is pickled (neither the pipeline nor this wrapper). The pipeline travels as the job's
``model.skops``, the job's ``metrics.json`` beside it (classes, features, operating point; read as a
:class:`medsweep.record.job_record.JobRecord`). Loading checks the model's sha256 against metrics.json's
``model_sha256`` and then loads it as ``medsweep predict`` does: in a child process under memory and time
limits (:class:`medsweep.learn.persistence.ModelProcess`, which checks types, archive and trees first).
Predicting checks the frame's columns as ``medsweep predict`` does (every training feature present; numbers
where training had numbers, text where it had text). A model registered by an older medsweep holds an older
copy of this file, which hands those checks metrics.json as a dict (they accept both). Loading needs medsweep
installed:

    model = mlflow.pyfunc.load_model("models:/medsweep-parkinsons/1")
    model.predict(frame)   # proba_<class> per class and y_pred at the job's operating point, as predict.py
"""

from __future__ import annotations

import json
from typing import Any, Optional

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

# Names of the model's artifacts (the job's files, copied into the logged model).
MODEL_ARTIFACT = "model"
METRICS_ARTIFACT = "metrics"


class MedsweepModel(PythonModel):
    def load_context(self, context: Any) -> None:
        from medsweep.learn.persistence import ModelProcess, UntrustedModelError
        from medsweep.record.job_record import JobRecord, model_problem
        from medsweep.tools.predict import check_classes, feature_kinds

        with open(context.artifacts[METRICS_ARTIFACT]) as f:
            self.record = JobRecord.from_json(json.load(f))
        path = context.artifacts[MODEL_ARTIFACT]
        problem = model_problem(path, self.record)
        if problem:
            raise UntrustedModelError(f"{problem}, so it was not loaded")
        self.pipeline = ModelProcess(path)
        try:
            check_classes(self.record, self.pipeline.info)
            self.kinds = feature_kinds(self.record, self.pipeline.info)
        except BaseException:  # a model refused here does not keep its process until garbage collection
            self.pipeline.close()
            raise

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: Optional[dict[str, Any]] = None) -> pd.DataFrame:
        from medsweep.evaluate.metrics import predicted_classes
        from medsweep.tools.predict import check_columns, features

        check_columns("the input frame", [str(c) for c in model_input.columns], self.record)
        X = features(model_input.reset_index(drop=True), self.kinds, 0, [])
        if self.record.task != "classification":
            return pd.DataFrame({"y_pred": self.pipeline.predict(X)})
        classes = self.record.classes
        proba = self.pipeline.predict_proba(X)
        out = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        threshold = self.record.operating_point["final_threshold"] if len(classes) == 2 else None
        out["y_pred"] = predicted_classes(proba, classes, threshold=threshold)
        return out


mlflow.models.set_model(MedsweepModel())
