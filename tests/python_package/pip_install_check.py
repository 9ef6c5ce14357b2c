#!/usr/bin/env python3
"""`pip install .` into a fresh venv, then the installed package at work.

  pip_install_check.py --source REPO --work DIR

Creates DIR/venv (removing an old one), makes this interpreter's
site-packages visible to it through a .pth file (numpy, nanobind,
scikit-build-core and xgboost without a network: nothing is downloaded;
pip runs with --no-index --no-build-isolation), pip-installs REPO into it
and, from DIR (outside the source tree) with no PYTHONPATH, checks that:
inferloop is the installed copy with its type stub and py.typed, help()
has docstrings, predict() equals xgboost bit for bit on the test model
(INFERLOOP_TEST_MODELS, else one trained here), and a loop and a backtest
run. Prints how long the install took. ctest runs it as python.pip_install
only with -DINFERLOOP_TEST_PIP_INSTALL=ON: it compiles the library again.
"""
import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time

CHECK = textwrap.dedent("""
    import os, sys, pydoc
    import numpy as np
    import xgboost as xgb
    import inferloop
    venv = sys.argv[1]
    model = sys.argv[2]
    package = os.path.dirname(inferloop.__file__)
    assert package.startswith(venv), f"imported {package}, not the copy installed in {venv}"
    for name in ("_inferloop.pyi", "py.typed", "__init__.py", "_backtest.py"):
        assert os.path.exists(os.path.join(package, name)), f"{name} is not installed"
    text = pydoc.render_doc(inferloop.InferenceLoop, renderer=pydoc.plaintext)
    assert "wait_for" in text and "feature_seq" in text, "help(InferenceLoop) lacks docstrings"
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 8)).astype(np.float32)
    expected = xgb.Booster(model_file=model).predict(xgb.DMatrix(x))
    got = inferloop.predict(model, x)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), "predict() != xgboost"
    config = {"model_uri": model, "predictor_class_name": "ForestPredictor"}
    with inferloop.InferenceLoop(config) as loop:
        assert loop.wait_for(loop.publish(x[0]), timeout=30)
        assert loop.latest().values[0, 0] == expected[0]
    result = inferloop.backtest(config, np.arange(len(x)) * 1000, x, latency="constant:1500ns")
    assert np.array_equal(result.values, expected[result.row])
    print(f"installed inferloop {inferloop.__version__} at {package}: checks passed")
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    work = os.path.abspath(args.work)
    venv = os.path.join(work, "venv")
    shutil.rmtree(venv, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "inferloop-test-parent.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    started = time.monotonic()
    subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation",
                    "--disable-pip-version-check", os.path.abspath(args.source)],
                   check=True, env=environment, cwd=work)
    seconds = time.monotonic() - started
    print(f"pip_install_check: `pip install .` took {seconds:.0f} s "
          f"(CMAKE_BUILD_PARALLEL_LEVEL={environment['CMAKE_BUILD_PARALLEL_LEVEL']}, "
          f"load average {os.getloadavg()[0]:.1f})", flush=True)

    model = None
    models = os.environ.get("INFERLOOP_TEST_MODELS")
    if models:
        model = os.path.join(models, "binary.ubj")
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import make_models
        model = make_models.make_models(os.path.join(work, "models"))["binary"]
    subprocess.run([python, "-c", CHECK, venv, model], check=True, env=environment, cwd=work)


if __name__ == "__main__":
    main()
