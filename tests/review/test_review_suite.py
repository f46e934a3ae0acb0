"""The suite's `review:` section: checked like every other key, before anything runs."""

from __future__ import annotations

import pytest
import yaml

from mmeval.errors import SpecError
from mmeval.runner import run
from mmeval.suite import load_suite
from tests.review.fixtures import review_suite


def _edit(path, change):
    suite = yaml.safe_load(path.read_text())
    change(suite)
    path.write_text(yaml.safe_dump(suite))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda s: s["review"]["pairwise"].update(b="refrence"), "review.pairwise.b: unknown model 'refrence'; did you mean 'reference'"),
    (lambda s: s["review"]["pairwise"].update(b="candidate"), "a and b are both 'candidate'"),
    (lambda s: s["review"]["criteria"].append({"name": "fluency"}), "criterion 'fluency' appears twice"),
    (lambda s: s["review"]["criteria"].append({"name": "Fits Product"}), "review.criteria[2].name"),
    (lambda s: s["review"].update(samples=0), "review.samples"),
    (lambda s: s["thresholds"].append({"model": "reference", "metric": "human_preference", "min": 0.5}),
     "model 'reference' reports no 'human_preference'"),
    (lambda s: s["thresholds"].append({"model": "candidate", "metric": "human_tone", "min": 3}), "unknown metric 'human_tone'"),
    (lambda s: s["metrics"].append({"use": "chrf", "name": "human_fluency"}), "would clash with the review's human_* results"),
])
def test_bad_review_sections_name_the_key(tmp_path, change, message):
    with pytest.raises(SpecError, match="review|thresholds|metrics") as caught:
        load_suite(_edit(review_suite(tmp_path), change))
    assert message in str(caught.value)


def test_criterion_results_are_threshold_keys_for_both_models(tmp_path):
    path = _edit(review_suite(tmp_path), lambda s: s["thresholds"].append({"model": "reference", "metric": "human_fluency", "min": 1}))
    assert load_suite(path).spec.review.criteria[1].name == "fluency"


def test_a_stratify_field_no_sample_has_is_an_error_before_any_model_runs(tmp_path):
    path = _edit(review_suite(tmp_path), lambda s: s["review"].update(stratify="colour"))
    with pytest.raises(SpecError, match="no sample .* has a field 'colour'"):
        run(path, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
