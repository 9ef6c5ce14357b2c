"""inferloop.predict(): batch scoring through the loop's own resolver and predictors."""
from . import _inferloop
from ._backtest import default_threads


def predict(model_uri, X, predictor="ForestPredictor", *, output="transformed", threads=None,
            device="cpu", mlflow_tracking_uri="", model_cache_dir=""):
    """Scores every row of X with the model at model_uri; returns a float32
    numpy array shaped like xgboost's predict(): (rows,) for one output per
    row, (rows, outputs) otherwise.

    model_uri   what a config's model_uri takes: a model file or MLflow model
                folder, models:/name@alias, models:/name/3, runs:/..., s3://...
    X           rows x features (1-D: one row): float32 used in place, other
                real dtypes converted like xgboost converts them (round to
                nearest float32), so values equal xgboost's predict() bit for
                bit. A DataFrame's column names are checked against the
                model's MLmodel signature, when it has one.
    predictor   "ForestPredictor" (inferloop's bit-exact evaluator, models
                from xgboost 1.0 to 3.2) or "XGBoostPredictor" (the linked
                libxgboost; see linked_xgboost_version()).
    output      "transformed" (probabilities, ...) or "margin".
    threads     row blocks scored at once, each by its own predictor; None =
                the CPUs this process may use. Never changes values.
    mlflow_tracking_uri, model_cache_dir   as in InferenceConfig.

    Raises inferloop.Error when the model cannot be resolved or loaded,
    ValueError / TypeError for the wrong width, shape or dtype.
    """
    columns = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = [str(column) for column in X.columns]
    return _inferloop._predict(model_uri, X, predictor, output,
                               default_threads() if threads is None else threads, device,
                               mlflow_tracking_uri, model_cache_dir, columns)
