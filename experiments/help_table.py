"""HELP's Table 4 on NB201: ``python -m experiments.help_table``.

One budget network on HELP's split, HELP's five unseen devices with 10 target measurements
each, HELP's 15 (device, constraint) cases beside HELP's published designs:
:func:`l2o.pipeline.help_table.run_help_table`, whose ``summary.json`` is
:class:`l2o.pipeline.summary.HelpTableSummary`; the options are the fields of
:class:`l2o.pipeline.help_table.HelpTableConfig` (``docs/experiments/help_table.md``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from experiments._app import load, register, run_dir
from experiments._setup import setup_jax
from l2o.pipeline.help_table import HelpTableConfig, run_help_table

register("help_table", HelpTableConfig)


@hydra.main(config_path="../conf", config_name="help_table", version_base="1.3")
def main(cfg: DictConfig):
    setup_jax()
    return run_help_table(load(HelpTableConfig, cfg), run_dir())


if __name__ == "__main__":
    main()
