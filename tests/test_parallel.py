"""Data-parallel training (the optimizer network and the predictors' loop): 4 host devices give
the 1-device result within float tolerance."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _train(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "_parallel_job.py")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sharded_training_matches_one_device():
    one, four = _train(1), _train(4)
    assert one["devices"] == 1 and four["devices"] == 4
    assert set(one["history"]) == set(four["history"]) == {"method1", "method2"}
    for phase in one["history"]:
        np.testing.assert_allclose(four["history"][phase], one["history"][phase], rtol=1e-4)
    # 400 Adam steps of up to 3e-3 each: summation order moves parameters by ~1e-4 at most
    np.testing.assert_allclose(four["params"], one["params"], rtol=1e-3, atol=5e-4)
    # the predictors' loop (l2o.predictors.fitting.fit), batches of 64 split 4 ways
    np.testing.assert_allclose(four["fit_loss"], one["fit_loss"], rtol=1e-4)
    np.testing.assert_allclose(four["fit_params"], one["fit_params"], rtol=1e-3, atol=1e-4)
