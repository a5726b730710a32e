"""Flower's FedAvg (flwr.server.strategy.aggregate.aggregate) on the same data as
bench-aggregate: reads N uploads of P float32 from a raw file and their example counts,
prints the best-of-R seconds for the weighted mean and a checksum of the result."""
import sys
import time
from functools import reduce

import numpy as np

path, n, p, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
weights = [float(w) for w in sys.argv[5].split(",")]
data = np.fromfile(path, dtype=np.float32).reshape(n, p)
results = [([data[i]], weights[i]) for i in range(n)]


def aggregate(results):
    num_examples_total = sum(num_examples for (_, num_examples) in results)
    weighted_weights = [[layer * num_examples for layer in weights] for weights, num_examples in results]
    return [reduce(np.add, layer_updates) / num_examples_total for layer_updates in zip(*weighted_weights)]


best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    out = aggregate(results)
    best = min(best, time.perf_counter() - start)
print(f"{best:.9f} {float(out[0][:1000].astype(np.float64).sum()):.9e}")
