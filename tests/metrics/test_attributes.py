"""attribute_f1 and price_mae: hand-checked values, batch-split independence, merge."""

from __future__ import annotations

import math

import pytest

from mmeval.errors import InputError
from mmeval.metrics.attributes import AttributeF1, PriceMAE

TARGETS = [
    "A red wool cap. Only $20.99.",
    "This blue steel watch is crafted. Yours for $150.00.",
    "A green cotton t-shirt.",
]
OUTPUTS = [
    "A red cotton cap for $18.99.",      # category, colour right; material wrong; price off by 2
    "A blue watch, $150.",               # two right, material missing; price exact
    "Nice shirt in green, at $9.",       # colour right only ("shirt" is not "t-shirt"); target has no price
]


def _run(metric, outputs, targets, splits):
    states, start = [], 0
    for size in splits:
        states.append(metric.update(metric.init(), outputs[start : start + size], targets[start : start + size]))
        start += size
    state = states[0]
    for other in states[1:]:
        state = metric.merge(state, other)
    return metric.compute(state)


@pytest.mark.parametrize("splits", [[3], [1, 1, 1], [2, 1]])
def test_attribute_f1_by_hand_and_any_split(splits):
    values = _run(AttributeF1(), OUTPUTS, TARGETS, splits)
    # predicted pairs: 3 + 2 + 1 = 6, correct: 2 + 2 + 1 = 5, target pairs: 9
    assert values["attribute_f1"] == pytest.approx(2 * 5 / (6 + 9))
    assert values["attribute_f1_precision"] == pytest.approx(5 / 6)
    assert values["attribute_f1_accuracy"] == pytest.approx(5 / 9)
    assert list(values)[0] == "attribute_f1"


@pytest.mark.parametrize("splits", [[3], [1, 2]])
def test_price_mae_only_where_the_target_states_a_price(splits):
    values = _run(PriceMAE(), OUTPUTS, TARGETS, splits)
    assert values == {"price_mae": pytest.approx(1.0), "price_mae_coverage": 1.0}
    missing = PriceMAE().compute(PriceMAE().update(PriceMAE().init(), ["no price"], ["$3"]))
    assert math.isnan(missing["price_mae"]) and missing["price_mae_coverage"] == 0.0


def test_non_text_is_an_input_error():
    with pytest.raises(InputError):
        AttributeF1().update(AttributeF1().init(), [3], ["a red cap"])
