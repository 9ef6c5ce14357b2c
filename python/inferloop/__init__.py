"""inferloop: in-process, wait-free XGBoost inference for trading and
backtesting engines, from Python.

    import numpy as np, inferloop

    with inferloop.InferenceLoop({"model_uri": "model.ubj",
                                  "predictor_class_name": "ForestPredictor"}) as loop:
        seq = loop.publish(np.array([100.0, 0.02, 0.35, 0.8], dtype=np.float32))
        loop.wait_for(seq, timeout=1.0)
        print(loop.latest().value)

    inferloop.predict("models:/btc-direction@champion", X)          # batch scoring
    inferloop.backtest("strategy.yaml", times, X, latency="lognormal:40us,15us")

docs/python.md has the whole package; docs/design.md and
docs/backtesting.md how the loop works.
"""
from ._inferloop import (  # noqa: F401
    Error,
    InferenceConfig,
    InferenceLoop,
    LatencySummary,
    LoopError,
    LoopStats,
    ManualClock,
    ModelInfo,
    ReloadOutcome,
    ResolvedModel,
    Result,
    __version__,
    linked_xgboost_version,
    resolve_model,
)
from ._backtest import BacktestResult, backtest  # noqa: F401
from ._predict import predict  # noqa: F401

__all__ = [
    "BacktestResult", "Error", "InferenceConfig", "InferenceLoop", "LatencySummary", "LoopError",
    "LoopStats", "ManualClock", "ModelInfo", "ReloadOutcome", "ResolvedModel", "Result",
    "backtest", "linked_xgboost_version", "predict", "resolve_model",
]
