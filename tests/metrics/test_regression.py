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
