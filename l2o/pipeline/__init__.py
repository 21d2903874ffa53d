"""The main job and HELP's Table 4 as importable calls, and the pieces they are built from.

- :mod:`l2o.pipeline.performance`: the frozen performance networks with the target devices held
  out (trained, or loaded from a cache keyed by their config), and each device's head;
- :mod:`l2o.pipeline.evaluation`: what the designs are scored against on a target device (its
  head and measured tables), the λ and budget grids, gaps, hypervolume, throughput;
- :mod:`l2o.pipeline.main_job`: ``run_main_job(config, out_dir) -> MainJobSummary``;
- :mod:`l2o.pipeline.help_table`: ``run_help_table(config, out_dir) -> HelpTableSummary``.
"""
