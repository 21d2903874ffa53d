"""The main job: ``python -m experiments.train_optimizer +device=pixel3`` (any NB201 device).

Trains the performance networks with the device held out and the optimizer network, then
designs for the device from its spec sheet and ``k`` measured architectures and scores the
designs on its measured tables: :func:`l2o.pipeline.main_job.run_main_job`, whose
``summary.json`` is :class:`l2o.pipeline.summary.MainJobSummary`. The options are the fields of
:class:`l2o.pipeline.main_job.MainJobConfig` (``docs/experiments/train_optimizer.md``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.pipeline.main_job import MainJobConfig, run_main_job

register("train_optimizer", MainJobConfig)


@hydra.main(config_path="../conf", config_name="train_optimizer", version_base="1.3")
def main(cfg: DictConfig) -> dict:
    setup_jax()
    return run_main_job(load(MainJobConfig, cfg), run_dir())


if __name__ == "__main__":
    main()
