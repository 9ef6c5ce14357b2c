#!/usr/bin/env python3
"""A Ray Serve deployment of an XGBoost model, as the reference design ran it:
POST /<name>/ with {"array": [[f0, f1, ...], ...]} answers {"predictions": [...]}.

Starts a local Ray instance, serves NUM_REPLICAS replicas of the model behind
Ray's HTTP proxy on 127.0.0.1:PORT, prints READY, and runs until SIGTERM, when
it shuts Serve and Ray down. Used by remote_fixtures.py and the latency bench.
"""
import argparse
import signal
import sys
import time

import numpy as np
import ray
from ray import serve


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="XGBoost model file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="xgb", help="route prefix and application name")
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()

    @serve.deployment(num_replicas=args.replicas, ray_actor_options={"num_cpus": 0})
    class XGBoostDeployment:
        def __init__(self, model_path):
            import xgboost as xgb

            self.booster = xgb.Booster(model_file=model_path)
            self.booster.set_param({"nthread": 1})

        async def __call__(self, request):
            body = await request.json()
            # JSON null (a missing feature) becomes NaN. The doubles are exact
            # widenings of the client's float32 values, so the cast is exact.
            rows = np.asarray(body["array"], dtype=np.float64).astype(np.float32)
            if rows.ndim == 1:
                rows = rows.reshape(1, -1)
            predictions = self.booster.inplace_predict(rows)
            return {"predictions": predictions.tolist()}

    # remote_fixtures.py starts this with scripts/server_env.py's environment,
    # whose Ray switch keeps the node address (and every Ray server) on loopback.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if addresses != {"127.0.0.1"}:
        sys.exit(f"serve_ray.py: the local Ray cluster is not on loopback: {addresses}; "
                 "start this script with scripts/server_env.py's environment")
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(XGBoostDeployment.bind(args.model), name=args.name, route_prefix=f"/{args.name}")

    def shutdown(*_):
        # This driver started the local Ray instance, so ray.shutdown() stops
        # it and every replica; serve.shutdown() first would only add seconds.
        ray.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print("READY", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
