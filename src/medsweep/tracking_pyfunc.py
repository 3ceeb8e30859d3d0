"""The MLflow model of a medsweep job, registered by ``tracking.register_best=true``.

MLflow "models from code": this file is copied into the logged model and run when the model is loaded, so
nothing is pickled (neither the pipeline nor this wrapper). The pipeline travels as the job's
``model.skops`` and is loaded with :func:`medsweep.persistence.load_model` (an exact allow-list of types);
the job's ``metrics.json`` gives the classes and the operating point. Loading needs medsweep installed:

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
        from medsweep.persistence import load_model

        self.pipeline = load_model(context.artifacts[MODEL_ARTIFACT])
        with open(context.artifacts[METRICS_ARTIFACT]) as f:
            self.record = json.load(f)

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: Optional[dict[str, Any]] = None) -> pd.DataFrame:
        from medsweep.metrics import predicted_classes

        if self.record["task"] != "classification":
            return pd.DataFrame({"y_pred": self.pipeline.predict(model_input)})
        classes = self.record["classes"]
        proba = self.pipeline.predict_proba(model_input)
        out = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
        threshold = self.record["operating_point"]["final_threshold"] if len(classes) == 2 else None
        out["y_pred"] = predicted_classes(proba, classes, threshold=threshold)
        return out


mlflow.models.set_model(MedsweepModel())
