"""Budget designs checked on the device (l2o.optimizer.verify) on a space of one slot whose
latency and accuracy are known in closed form, with a head that under-predicts."""

import numpy as np
import pytest

from l2o.optimizer.verify import verified_designs
from l2o.predictors.latency import Head

N = 50
LATENCY = np.linspace(1.0, 50.0, N)  # ms of choice i: accuracy grows with latency
ACCURACY = 60.0 + 0.2 * np.arange(N)


def toy(bias: float, learn: bool = True):
    """(design, fit, measure, accuracy): the head predicts ``bias`` x the latency until a
    measurement corrects it (least squares of the ratio over the measured choices; never when
    not ``learn``), and the design is the exact budget optimum on the predicted latency."""
    measured = []

    def fit(archs, latency_ms):
        x = LATENCY[archs[:, 0]]
        if len(measured) == 0 or not learn:  # the up-front measurements alone: the biased head
            return Head(np.float32(bias), np.float32(1.0))
        return Head(np.float32(x @ latency_ms / (x @ x)), np.float32(1.0))

    def design(head, budget_ms, margin):
        ok = np.flatnonzero(head.w * LATENCY <= budget_ms * (1 - margin))
        return np.array([ok[np.argmax(ACCURACY[ok])] if len(ok) else 0], np.int32)

    def measure(arch):
        measured.append(int(arch[0]))
        return float(LATENCY[arch[0]])

    def accuracy(archs):
        return ACCURACY[np.asarray(archs)[:, 0]]

    return design, fit, measure, accuracy, measured


def oracle(budget):
    return int(np.flatnonzero(LATENCY <= budget).max())


def test_an_under_predicting_head_is_corrected_by_one_measurement():
    design, fit, measure, accuracy, measured = toy(bias=0.8)
    support = np.array([[0]], np.int32)
    found, archs, lat = verified_designs(
        [30.0], design, fit, measure, accuracy, support, LATENCY[[0]], n_verify=3
    )
    (f,) = found
    # the biased head's pick runs over (0.8 x latency <= 30 admits 37.5 ms); its measurement
    # makes the head exact, and the next design is the measured-feasible optimum
    assert measured == [int(np.flatnonzero(0.8 * LATENCY <= 30.0).max()), oracle(30.0)]
    assert f.verified and f.arch[0] == oracle(30.0) and f.latency_ms <= 30.0
    assert f.measurements == 2
    np.testing.assert_array_equal(archs[:, 0], [0, *measured])
    np.testing.assert_allclose(lat, LATENCY[archs[:, 0]])


@pytest.mark.parametrize("n_verify", [0, 1, 2, 5])
def test_verified_designs_never_run_over_and_spend_at_most_n_verify(n_verify):
    design, fit, measure, accuracy, measured = toy(bias=0.7)
    budgets = [12.0, 40.0, 25.0]
    support = np.array([[0], [5]], np.int32)
    found, archs, _ = verified_designs(
        budgets, design, fit, measure, accuracy, support, LATENCY[[0, 5]], n_verify
    )
    assert len(measured) <= n_verify and sum(f.measurements for f in found) == len(measured)
    assert [f.budget_ms for f in found] == budgets  # in the order asked
    for f in found:
        if f.verified:
            assert LATENCY[f.arch[0]] <= f.budget_ms and f.latency_ms == LATENCY[f.arch[0]]
    if n_verify == 0:  # nothing measured: the biased head's designs, unverified
        biased = [int(np.flatnonzero(0.7 * LATENCY <= b).max()) for b in budgets]
        assert [f.arch[0] for f in found] == biased and not any(f.verified for f in found)
    if n_verify == 5:
        assert [f.arch[0] for f in found] == [oracle(b) for b in budgets]


def test_a_measured_choice_within_the_budget_is_taken_when_predicted_as_accurate():
    design, fit, measure, accuracy, measured = toy(bias=1.0)
    support = np.array([[9], [30]], np.int32)  # 10 ms and 31 ms: 10 ms is the 10 ms optimum
    (f,), _, _ = verified_designs(
        [10.0], design, fit, measure, accuracy, support, LATENCY[[9, 30]], n_verify=2
    )
    assert f.verified and f.arch[0] == 9 and f.measurements == 0 and measured == []


def test_negative_n_verify_is_refused():
    design, fit, measure, accuracy, _ = toy(bias=1.0)
    with pytest.raises(ValueError, match="n_verify"):
        verified_designs([1.0], design, fit, measure, accuracy, np.zeros((1, 1)), [1.0], -1)


def test_a_design_measured_over_the_budget_is_never_returned():
    _, fit, measure, accuracy, measured = toy(bias=0.5)

    def stubborn(head, budget_ms, margin):  # whatever the aim, the same too-slow design
        return np.array([40], np.int32)

    support = np.array([[3]], np.int32)
    (f,), _, _ = verified_designs(
        [30.0], stubborn, fit, measure, accuracy, support, LATENCY[[3]], n_verify=4
    )
    assert measured == [40]  # measured once; the aim then shrank without more measurements
    assert f.verified and f.arch[0] == 3 and f.latency_ms == LATENCY[3]


def test_every_budget_keeps_a_measurement():
    design, fit, measure, accuracy, measured = toy(bias=0.7, learn=False)
    budgets = [12.0, 40.0, 25.0]
    support = np.array([[0]], np.int32)
    found, _, _ = verified_designs(
        budgets, design, fit, measure, accuracy, support, LATENCY[[0]], n_verify=3
    )
    # the head never learns, so every first design runs over; the largest budget may spend only
    # one of the three, leaving one for each smaller budget
    assert [f.measurements for f in found] == [1, 1, 1] and len(measured) == 3
    assert [LATENCY[m] > b for m, b in zip(measured, sorted(budgets, reverse=True))] == [True] * 3
