"""Audio metric cost per second of audio, measured in one run on the same clips.

    python bench/bench_audio.py [--clips 8] [--seconds 4] [--repeat 3] [--threads N]
    python bench/bench_audio.py --behaviour     # audio_similarity vs SNR, gain and delay

Times audio_similarity and FAD (weight-free embedding) against PESQ (wide-band) and
STOI on the same speech-like clips with 20 dB noise: each metric's init, update and
compute over all clips. These are different metrics, not two implementations of one, so
the ratios compare what each costs to run, not who computes the same value faster. Each
metric gets one warm-up, then `--repeat` interleaved rounds, the order reversed every
other round (bench/timing.py); prints min and median, ms of compute per clip-second at
the median, and each ratio of medians (PESQ or STOI / mmeval; > 1 means mmeval's metric
is cheaper).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MMEVAL_CACHE_DIR", "off")

from tests.metrics.audio.signals import RATE, add_noise, speech_like  # noqa: E402
from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads  # noqa: E402


def behaviour() -> None:
    """audio_similarity on the test signals: additive noise at 30/20/10/0 dB SNR, -6 dB, 10 ms delay."""
    import numpy as np

    from mmeval.metrics.audio.similarity import similarity
    from tests.metrics.audio.signals import chirp, music_like

    for name, x in (("speech", speech_like(0)), ("music", music_like()), ("chirp", chirp())):
        noisy = [similarity((add_noise(x, snr), RATE), (x, RATE)) for snr in (30, 20, 10, 0)]
        gain = similarity((0.5 * x, RATE), (x, RATE))
        delay = similarity((np.concatenate([np.zeros(RATE // 100), x])[: x.size], RATE), (x, RATE))
        print(f"  {name:7s} SNR 30/20/10/0 dB: {' / '.join(f'{v:.3f}' for v in noisy)}   -6 dB: {gain:.4f}   10 ms delay: {delay:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--behaviour", action="store_true", help="print audio_similarity's response to noise, gain, delay")
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    if args.behaviour:
        behaviour()
        return

    from mmeval.metrics.audio.fad import FAD
    from mmeval.metrics.audio.intelligibility import PESQ, STOI
    from mmeval.metrics.audio.similarity import AudioSimilarity

    refs = [(speech_like(i, args.seconds), RATE) for i in range(args.clips)]
    outs = [(add_noise(r[0], 20, seed=i), RATE) for i, (r) in enumerate(refs)]
    audio_seconds = args.clips * args.seconds

    def run(metric):
        return lambda: metric.compute(metric.update(metric.init(), outs, refs))

    rows = interleaved({name: run(metric) for name, metric in
                        (("audio_similarity", AudioSimilarity()), ("fad", FAD()), ("pesq", PESQ()), ("stoi", STOI()))}, args.repeat)
    print(f"{args.clips} clips x {args.seconds:g} s = {audio_seconds:g} s of audio at {RATE} Hz; "
          f"1 warm-up + {args.repeat} interleaved rounds")
    for name, timing in rows.items():
        print(f"  {line(f'{name:17s}', timing)}  ({timing.median / audio_seconds * 1000:6.1f} ms per clip-second)")
    for ours in ("audio_similarity", "fad"):
        print(f"  {ours} vs pesq: {ratio(rows['pesq'], rows[ours])}   vs stoi: {ratio(rows['stoi'], rows[ours])}")
    print(threads_line())


if __name__ == "__main__":
    main()
