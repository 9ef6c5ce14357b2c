"""The rows the forest benchmarks train and predict on, shared by
make_forest_models.py (XGBoost) and make_lightgbm_models.py (LightGBM) so that
both evaluators are measured on the same data: 20,000 training rows of 32
normal features with a noisy non-linear binary label, and 10,000 test rows
(float32, 10% NaN), all from one seeded generator."""
import numpy as np

NUM_FEATURES = 32


def bench_rows(seed=42):
    """(training features, labels as float32, test features)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20000, NUM_FEATURES)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] - np.sin(x[:, 3]) + 0.5 * rng.normal(size=len(x)) > 0)
    test = rng.normal(size=(10000, NUM_FEATURES)).astype(np.float32)
    test[rng.random(size=test.shape) < 0.10] = np.nan
    return x, y.astype(np.float32), test
