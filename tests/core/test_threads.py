"""Results do not depend on the number of CPU threads (the brief's rule for every result we publish)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from gradfree.cli import main

TRAIN = """
import hashlib, sys
import numpy as np, torch
from gradfree.experiments.rmn_orthogonal import make_streams
from gradfree.rmn import RMNClassifier
torch.set_num_threads(int(sys.argv[1]))
train, _, _ = make_streams(1, False, 0.3)  # a stream whose result once changed with the thread count
model = RMNClassifier.paper(readout="simple", random_state=1)
model.partial_fit(train[0].X, train[0].y, classes=np.arange(10))
print(hashlib.sha256(model.weights_[0].numpy().tobytes() + model.prototypes_.numpy().tobytes()).hexdigest())
"""


def test_rmn_learning_is_bitwise_identical_at_one_and_two_threads():
    # Small matrix products (10 x 100 times 100 x 1000) rounded differently with two threads, which
    # moved one test sample of rmn-orthogonal; MKL's strict mode (set by `import gradfree`) fixes it.
    # Each count runs in a fresh process, as a user's run does.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    digests = [subprocess.run([sys.executable, "-c", TRAIN, str(n)], env=env, capture_output=True,
                              text=True, check=True).stdout for n in (1, 2)]
    assert digests[0] == digests[1] and len(digests[0]) == 65


def test_run_results_identical_at_one_and_two_threads(tmp_path):
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        assert main(["run", "ncm-split", "--quick", "--seeds", "1", "--threads", str(threads),
                     "--no-progress", "--out", str(out)]) == 0
        outs.append(json.loads((out / "results.json").read_text()))
        assert json.loads((out / "run_info.json").read_text())["threads"] == threads
    assert outs[0] == outs[1]
