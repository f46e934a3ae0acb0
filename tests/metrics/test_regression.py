"""MAE/MSE/RMSE equal scikit-learn and numpy; bad numbers are input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, mean_squared_error

from mmeval.errors import InputError
from mmeval.metrics.regression import MAE, MSE, RMSE


def test_matches_sklearn_across_batches():
    rng = np.random.default_rng(0)
    targets = rng.normal(50, 20, 1000).tolist()
    outputs = (np.array(targets) + rng.normal(0, 5, 1000)).tolist()
    expected = {"mae": mean_absolute_error(targets, outputs), "mse": mean_squared_error(targets, outputs)}
    expected["rmse"] = math.sqrt(expected["mse"])
    for metric in (MAE(), MSE(), RMSE()):
        state = metric.init()
        for i in range(0, 1000, 77):
            state = metric.update(state, outputs[i : i + 77], targets[i : i + 77])
        assert metric.compute(state)[metric.name] == pytest.approx(expected[metric.name], rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=2, max_size=40), st.integers(1, 39))
def test_merge_equals_one_pass(pairs, cut):
    cut = min(cut, len(pairs) - 1)
    outputs, targets = [p[0] for p in pairs], [p[1] for p in pairs]
    for metric in (MAE(), MSE()):
        whole = metric.compute(metric.update(metric.init(), outputs, targets))[metric.name]
        a = metric.update(metric.init(), outputs[:cut], targets[:cut])
        b = metric.update(metric.init(), outputs[cut:], targets[cut:])
        assert metric.compute(metric.merge(a, b))[metric.name] == pytest.approx(whole, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("bad", ["twelve", None, float("nan"), True, [1]])
def test_non_numbers_are_input_errors(bad):
    with pytest.raises(InputError):
        MAE().update(MAE().init(), [bad], [1.0])


def test_numeric_strings_are_accepted():
    assert MAE().compute(MAE().update(MAE().init(), ["12.5"], [10]))["mae"] == 2.5


def test_paired_images_are_mean_over_all_pixel_values(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    outs, tgts, diffs = [], [], []
    for i, shape in enumerate([(8, 10, 3), (6, 6, 3)]):
        a, b = (rng.random(shape) * 255).astype(np.uint8), (rng.random(shape) * 255).astype(np.uint8)
        Image.fromarray(a).save(tmp_path / f"o{i}.png")
        outs.append(tmp_path / f"o{i}.png")
        tgts.append(b)  # a path on one side, an array on the other
        diffs.append((a.astype(float) - b.astype(float)).ravel() / 255)
    d = np.concatenate(diffs)
    for metric, expected in ((MAE(), np.abs(d).mean()), (MSE(), (d**2).mean()), (RMSE(), math.sqrt((d**2).mean()))):
        assert metric.compute(metric.update(metric.init(), outs, tgts))[metric.name] == pytest.approx(expected, rel=1e-12)


# --- MAPE, sMAPE, R², MedAE --------------------------------------------------------------


def test_price_metrics_match_references():
    from sklearn.metrics import mean_absolute_percentage_error, median_absolute_error, r2_score

    from mmeval.metrics.regression import MAPE, R2, SMAPE, MedAE

    rng = np.random.default_rng(1)
    t = rng.uniform(1, 500, 700)
    o = t * rng.normal(1, 0.2, 700)
    smape = np.mean(2 * np.abs(o - t) / (np.abs(t) + np.abs(o)))  # the formula, written out
    expected = {"mape": mean_absolute_percentage_error(t, o), "smape": smape, "r2": r2_score(t, o),
                "medae": median_absolute_error(t, o)}
    for metric in (MAPE(), SMAPE(), R2(), MedAE()):
        state = metric.init()
        for i in range(0, 700, 61):
            state = metric.update(state, o[i : i + 61].tolist(), t[i : i + 61].tolist())
        assert metric.compute(state)[metric.name] == pytest.approx(expected[metric.name], rel=1e-12)


def test_mape_zero_targets():
    from mmeval.metrics.regression import MAPE

    with pytest.raises(InputError, match="target 0.0 has no percentage error"):
        MAPE().update(MAPE().init(), [3, 1], [2, 0])
    skip = MAPE(zero_target="skip")
    values = skip.compute(skip.update(skip.init(), [3, 1, 5], [2, 0, 0]))
    assert values == {"mape": 0.5, "mape_skipped": 2.0}
    eps = MAPE(zero_target="eps")
    assert eps.compute(eps.update(eps.init(), [1], [0]))["mape"] == pytest.approx(1 / np.finfo(float).eps)
    assert "mape_skipped" not in MAPE().compute(MAPE().init())
    assert len({MAPE(zero_target=z).fingerprint() for z in ("error", "eps", "skip")}) == 3
    with pytest.raises(ValueError, match="zero_target"):
        MAPE(zero_target="ignore")


def test_edge_cases_of_smape_r2_medae():
    from sklearn.metrics import r2_score

    from mmeval.metrics.regression import R2, SMAPE, MedAE

    def one(metric, outputs, targets):
        return metric.compute(metric.update(metric.init(), outputs, targets))[metric.name]

    assert one(SMAPE(), [0, 5], [0, -5]) == 1.0  # 0/0 scores 0 (torchmetrics' floor); opposite signs 2
    assert SMAPE.value_range == (0.0, 2.0)
    assert one(R2(), [3, 3], [3, 3]) == r2_score([3, 3], [3, 3]) == 1.0  # constant target, perfect
    assert one(R2(), [2, 4], [3, 3]) == r2_score([3, 3], [2, 4]) == 0.0  # constant target, not perfect
    assert math.isnan(one(R2(), [1], [2]))  # one sample: undefined, as in scikit-learn
    assert R2.value_range == (-math.inf, 1.0) and R2.min_samples == 2 and R2.higher_is_better
    assert one(R2(), [10, -10, 0], [0, 1, 2]) == pytest.approx(r2_score([0, 1, 2], [10, -10, 0]))  # far below 0
    assert one(MedAE(), [1, 2, 3, 10], [1, 1, 1, 1]) == 1.5
    assert math.isnan(MedAE().compute(MedAE().init())["medae"])
    with pytest.raises(InputError, match="too large"):
        R2().update(R2().init(), [1e200], [1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(0.5, 1e6)), min_size=2, max_size=40), st.integers(1, 39))
def test_price_metric_merges_are_exact(pairs, cut):
    from mmeval.metrics.regression import MAPE, R2, SMAPE, MedAE

    cut = min(cut, len(pairs) - 1)
    outputs, targets = [p[0] for p in pairs], [p[1] for p in pairs]
    for metric in (MAPE(), SMAPE(), R2(), MedAE()):
        whole = metric.compute(metric.update(metric.init(), outputs, targets))
        a = metric.update(metric.init(), outputs[:cut], targets[:cut])
        b = metric.update(metric.init(), outputs[cut:], targets[cut:])
        assert metric.compute(metric.merge(b, a)) == whole  # to the last bit, in either order


def test_exact_sums():
    from fractions import Fraction

    from mmeval.metrics.regression import add_exact, exact_square

    rng = np.random.default_rng(2)
    values = (rng.normal(0, 1, 500) * 10.0 ** rng.integers(-20, 20, 500)).tolist()
    parts = add_exact((), values)
    assert sum(map(Fraction, parts)) == sum(map(Fraction, values))
    for x in values[:100]:
        hi, lo = exact_square(x)
        assert Fraction(hi) + Fraction(lo) == Fraction(x) ** 2
