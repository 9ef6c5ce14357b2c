#!/usr/bin/env python3
"""The inputs bench/forest_compare.cpp needs beside the models that
bench/make_forest_models.py trains, written into the same folder:

  forest_<T>x<D>.tl2cgen/      tl2cgen's C for the model (header.h, main.c,
                               tu*.c), compiled by bench/run_forest_compare.sh
  forest_<T>x<D>.reference.f32 xgboost's own Python predictions (probabilities,
                               float32, one per row of features.f32) from the
                               version that trained the model: what every
                               system is compared with bit for bit

Run it with .venv-bench/bin/python (bench/requirements-forest-compare.txt):
    .venv-bench/bin/python bench/forest_compare_prepare.py --models DIR
"""
import argparse
import os
import shutil

import numpy as np
import tl2cgen
import treelite
import xgboost as xgb

NUM_FEATURES = 32
MODELS = ["forest_100x6", "forest_500x6", "forest_1000x8"]
# tl2cgen splits the trees over this many C files so that the compile can
# run in parallel; the code of each tree is the same either way.
SOURCE_FILES = 8


def is_newer(file, than):
    return os.path.exists(file) and os.path.getmtime(file) >= os.path.getmtime(than)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="folder of make_forest_models.py")
    args = parser.parse_args()
    features = np.fromfile(os.path.join(args.models, "features.f32"), dtype="<f4")
    features = features.reshape(-1, NUM_FEATURES)
    for name in MODELS:
        model_file = os.path.join(args.models, name + ".ubj")
        reference_file = os.path.join(args.models, name + ".reference.f32")
        c_dir = os.path.join(args.models, name + ".tl2cgen")
        # Written for this model already: its compiled code stays valid
        # (features.f32 is rewritten on every run, but from a fixed seed).
        if is_newer(reference_file, model_file) and \
                is_newer(os.path.join(c_dir, "main.c"), model_file):
            continue
        booster = xgb.Booster(model_file=model_file)
        booster.set_param({"nthread": 1})
        reference = booster.predict(xgb.DMatrix(features, missing=np.nan))
        reference.astype("<f4").tofile(reference_file)

        shutil.rmtree(c_dir, ignore_errors=True)
        # treelite 4.1 reads XGBoost's JSON only: from_xgboost takes the
        # booster itself (it asks xgboost for the JSON of the loaded model).
        model = treelite.frontend.from_xgboost(booster)
        tl2cgen.generate_c_code(model, c_dir, params={"parallel_comp": SOURCE_FILES})
        print("wrote", c_dir, "and", name + ".reference.f32", f"(xgboost {xgb.__version__},",
              f"treelite {treelite.__version__}, tl2cgen {tl2cgen.__version__})")


if __name__ == "__main__":
    main()
