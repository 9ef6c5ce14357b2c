#!/usr/bin/env python3
"""The reference design's serving side, rebuilt for bench/run_compare.sh: a
Ray Serve deployment of the XGBoost model behind Ray's HTTP proxy.

One local Ray instance serves two applications of the same deployment, so the
harness pays Ray's start-up once: /r1 with num_replicas=1 and /r2 with
num_replicas=2 (round-robin across replicas by Ray's proxy, as the reference
described). POST {"features": [[f0, f1, ...], ...]} answers
{"predictions": [...]}.

Prints READY once both answer, and runs until SIGTERM/SIGINT, when it shuts
Ray down. run.py starts it in a session of its own and, after it exits, ends
whatever is left of that session and of --temp-dir (see run.py's
ServerGroup), so an interrupted run leaves no Ray process behind.
"""
import argparse
import signal
import sys
import time

import numpy as np
import ray
from ray import serve


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="XGBoost model file (.ubj/.json)")
    parser.add_argument("--port", type=int, required=True, help="Ray Serve HTTP proxy port")
    parser.add_argument("--temp-dir", required=True,
                        help="Ray's session folder root (short: Ray puts sockets in it)")
    args = parser.parse_args()

    # Replicas take no CPU reservation: on a 2-core machine two replicas plus
    # the proxy and controller would not fit Ray's bookkeeping otherwise; the
    # OS schedules them, as it schedules inferloop's threads.
    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class XGBoostPredictor:
        def __init__(self, model_path):
            import xgboost

            self.booster = xgboost.Booster(model_file=model_path)
            # One thread per call, as inferloop's predictors run: more threads
            # make one-row predictions slower.
            self.booster.set_param({"nthread": 1})

        async def __call__(self, request):
            body = await request.json()
            rows = np.asarray(body["features"], dtype=np.float32)
            if rows.ndim == 1:
                rows = rows.reshape(1, -1)
            return {"predictions": self.booster.inplace_predict(rows).tolist()}

    def shutdown(*_):
        ray.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    # run.py starts this with scripts/server_env.py's environment, whose Ray
    # switch keeps the node address (and every Ray server) on loopback.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1",
             _temp_dir=args.temp_dir, object_store_memory=100 * 1024 * 1024)
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if addresses != {"127.0.0.1"}:
        sys.exit(f"ray_server.py: the local Ray cluster is not on loopback: {addresses}")
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    for replicas in (1, 2):
        serve.run(XGBoostPredictor.options(num_replicas=replicas).bind(args.model),
                  name=f"r{replicas}", route_prefix=f"/r{replicas}")
    print("READY", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
