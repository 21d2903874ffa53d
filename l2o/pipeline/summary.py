"""The contracts of the main job's and HELP's table's ``summary.json``: one dataclass each.

The writer serialises these (:func:`l2o.config.to_dict`), the documentation's key tables are
generated from their fields' ``doc`` metadata, and the tests check the written keys against
:func:`keys`.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def _doc(text: str) -> Any:
    return dataclasses.field(metadata={"doc": text})


def keys(summary_class: type) -> tuple[str, ...]:
    """The keys a summary of ``summary_class`` writes, in order."""
    return tuple(f.name for f in dataclasses.fields(summary_class))


@dataclasses.dataclass(frozen=True)
class MainJobSummary:
    device: str = _doc("the held-out target device")
    space: str = _doc("the design space")
    method: str = _doc("the optimizer network's training method: method1 | method2 | both")
    k: int = _doc("measured architectures of the target")
    support: str = _doc("how the k archs were chosen: random | help_reference")
    seed: int = _doc("the run's seed")
    train_devices: list = _doc("the devices the performance networks learned from")
    lambdas: list = _doc("the λ grid (log-spaced over Λ_T)")
    objective_gap: dict = _doc(
        "{mean, max, per_lambda}: the network's argmax designs against per-device evolutionary "
        "search on the same predicted objective, relative to the objective's range"
    )
    objective_gaps: dict = _doc(
        "{argmax, best_of_K, polished, search_vs_exhaustive}: the same gap at each decoding stage, "
        "and the search's own gap to the exhaustive optimum"
    )
    hypervolume_ratio: float = _doc(
        "hypervolume of every design's measured (latency, accuracy) over the oracle front's"
    )
    budget: list = _doc(
        "one row per budget: {budget_ms, latency_ms, accuracy, oracle_accuracy, "
        "predicted_latency_ms, predicted_accuracy, arch}, and with verify > 0: verified, "
        "measurements"
    )
    violation_rate: float = _doc("share of budgets whose design's measured latency exceeds them")
    accuracy_gap_to_oracle: float = _doc(
        "mean over budgets of the oracle's measured accuracy less the design's (points)"
    )
    budget_stages: dict = _doc(
        "{best_of_k, polished, and verified with verify > 0: {accuracy_gap_to_oracle, "
        "violation_rate}}: what each step adds"
    )
    margin: float = _doc("the budget safety margin the designs aimed with")
    loo_margin: float = _doc("the leave-one-out margin of the target's k measurements")
    seconds_per_design: float = _doc("one design: the network's forward pass and argmax")
    seconds_per_design_best_of_k: float = _doc("one best-of-K design")
    designs_per_second_batched: float = _doc("designs per second, batched in one call")
    seconds_per_design_polished: float = _doc(
        "one polished budget design (best-of-K, repair, polish)"
    )
    seconds_per_search: float = _doc("one per-device evolutionary search")
    speedup: float = _doc("seconds_per_search / seconds_per_design")
    speedup_polished: float = _doc("seconds_per_search / seconds_per_design_polished")
    train_seconds: dict = _doc("{performance, lambda, budget}: training wall times")
    label_cost: dict = _doc(
        "{labels, seconds, equivalent_search_seconds}: Method 1's labels and what they would "
        "cost as searches"
    )
    ablations: dict | None = _doc(
        "{the other method, without_synthetic, the other method without_synthetic: objective "
        "gap of argmax designs} (null with ablations=false)"
    )
    seconds: float = _doc("wall time of the run")


@dataclasses.dataclass(frozen=True)
class HelpTableSummary:
    experiment: str = _doc("help_nb201")
    space: str = _doc("the design space")
    method: str = _doc("the budget network's training method")
    k: int = _doc("measured architectures of each device")
    support: str = _doc("how they were chosen (help_reference: HELP's references)")
    seed: int = _doc("the run's seed")
    help_table: list = _doc(
        "one row per (device, constraint): {device, constraint_ms, latency_ms, accuracy, "
        "oracle_accuracy, arch, verified, measurements, help_latency_ms, help_accuracy, met, "
        "help_met, margin}"
    )
    violations: int = _doc("cases whose design's measured latency exceeds the constraint")
    at_least_help: int = _doc(
        "cases where HELP met its constraint and the design meets it with at least HELP's accuracy"
    )
    help_met: int = _doc("cases where HELP's own design met its constraint")
    stages: dict = _doc(
        "{best_of_k, polished, verified: {violations, at_least_help}}: what each step adds"
    )
    train_seconds: dict = _doc("{performance, budget}: training wall times")
    seconds: float = _doc("wall time of the run")
