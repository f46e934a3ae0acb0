"""The keyed spread-spectrum audio watermark: detection, calibration, quality and robustness."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("scipy")

from scipy.signal import butter, resample_poly, sosfiltfilt  # noqa: E402

from mmeval.catalog.audio import RATE, synthesize  # noqa: E402
from mmeval.catalog.products import make_products  # noqa: E402
from mmeval.provenance import audio as wm  # noqa: E402
from mmeval.provenance.base import subkey  # noqa: E402

KEY = subkey(b"test-watermark-secret-0123456789", "audio")
OTHER = subkey(b"another-watermark-secret-abcdefg", "audio")


def _spots(n: int, seed: int) -> list[np.ndarray]:
    return [synthesize(p).astype(np.float64) for p in make_products(n, seed)]


def _q16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767), -32768, 32767) / 32767


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x, _q16(wm.embed(x, RATE, KEY))) for x in _spots(4, 101)]


def _attack(x: np.ndarray, name: str, seed: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(seed))
    if name == "noise_20db":
        return x + rng.standard_normal(x.size) * np.sqrt(np.mean(x ** 2) / 100)
    if name == "resample_8k":
        return resample_poly(resample_poly(x, 1, 2), 2, 1)
    if name == "lowpass_4k":
        return sosfiltfilt(butter(8, 4000, fs=RATE, output="sos"), x)
    if name == "crop_50":
        at = int(rng.integers(1, x.size // 2)) | 1  # odd: never frame- or period-aligned
        return x[at:at + x.size // 2]
    raise ValueError(name)


def test_marked_is_detected(marked):
    for _, y in marked:
        d = wm.detect(y, RATE, KEY)
        assert d.detected and d.p_value < 1e-6 and d.algorithm == wm.ALGORITHM
        assert d.details["lag"] == 0 and d.details["polarity"] == 1


def test_unmarked_is_not_detected():
    for x in _spots(6, 202):
        d = wm.detect(_q16(x), RATE, KEY)
        assert not d.detected and d.p_value > 1e-3


def test_wrong_key_is_not_detected(marked):
    for _, y in marked:
        assert wm.detect(y, RATE, OTHER).p_value > 1e-3


def test_p_value_is_calibrated_over_keys(marked):
    # Under "marked with another key", p should be ~uniform: few small p-values.
    y = marked[0][1]
    p = np.array([wm.detect(y, RATE, bytes([i]) * 32).p_value for i in range(150)])
    assert np.mean(p < 0.1) < 0.2 and np.mean(p < 0.5) > 0.3


def test_snr_after_16bit_quantisation(marked):
    for x, y in marked:
        snr = 10 * np.log10(np.sum(x ** 2) / np.sum((y - x) ** 2))
        assert 30.0 <= snr < 32.0


@pytest.mark.parametrize("attack", ["noise_20db", "resample_8k", "lowpass_4k", "crop_50"])
def test_survives_attack(marked, attack):
    for i, (x, y) in enumerate(marked):
        d = wm.detect(_attack(y, attack, i), RATE, KEY)
        assert d.p_value < 1e-4, (attack, i, d.score)
        assert wm.detect(_attack(_q16(x), attack, i), RATE, KEY).p_value > 1e-3


def test_polarity_inversion_is_still_detected(marked):
    d = wm.detect(-marked[1][1], RATE, KEY)
    assert d.p_value < 1e-6 and d.details["polarity"] == -1


def test_44k1_and_stereo():
    x = resample_poly(_spots(1, 303)[0], 441, 160)
    stereo = np.stack([x, 0.5 * np.roll(x, 1000)], axis=1)
    y = wm.embed(stereo, 44100, KEY)
    assert y.shape == stereo.shape and y.dtype == np.float64
    for c in range(2):  # every channel keeps the SNR floor
        assert 10 * np.log10(np.sum(stereo[:, c] ** 2) / np.sum((y[:, c] - stereo[:, c]) ** 2)) >= 30.0
    assert wm.detect(_q16(y), 44100, KEY).p_value < 1e-6
    assert wm.detect(y[:, 0], 44100, KEY).p_value < 1e-6
    assert wm.detect(stereo, 44100, KEY).p_value > 1e-3


def test_deterministic_and_independent_of_global_rng():
    x = _spots(1, 404)[0]
    np.random.seed(1)
    a = wm.embed(x, RATE, KEY)
    np.random.seed(2)
    np.random.random(10)
    b = wm.embed(x, RATE, KEY)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, wm.embed(x, RATE, OTHER))
    assert wm.detect(a, RATE, KEY) == wm.detect(b, RATE, KEY)


def test_too_short_clip_raises():
    x = _spots(1, 505)[0][: int(0.4 * RATE)]
    with pytest.raises(ValueError, match=f"at least {wm.MIN_SECONDS} s"):
        wm.embed(x, RATE, KEY)
    with pytest.raises(ValueError, match=f"at least {wm.MIN_SECONDS} s"):
        wm.detect(x, RATE, KEY)


def test_params_are_json_safe():
    assert json.loads(json.dumps(wm.params()))["algorithm"] == wm.ALGORITHM


def test_silence_is_left_alone():
    silent = np.zeros(RATE)
    assert np.array_equal(wm.embed(silent, RATE, KEY), silent)
    assert not wm.detect(silent, RATE, KEY).detected
