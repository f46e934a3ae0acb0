"""Watermark robustness, all three modalities: TPR at 1% and 0.1% FPR under each attack.

Per modality, marked and unmarked items (disjoint) go through the same attacks; the
threshold is the empirical quantile of the unmarked items' scores under that attack, and
TPR comes with exact Clopper-Pearson 95% bounds (wm_stats.py). The modules behind it
print more detail on their own: wm_text.py, wm_image.py, wm_audio.py.

    python bench/watermark_robustness.py              # ~12 min on 2 idle cores
    python bench/watermark_robustness.py --skip text  # images and audio only (~6 min)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from wm_stats import bench_parser, print_table  # noqa: E402


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--skip", action="append", default=[], choices=["text", "image", "audio"])
    args = parser.parse_args()
    n = dict(n_marked=args.marked, n_unmarked=args.unmarked)
    began = time.perf_counter()
    if "image" not in args.skip:
        import wm_image

        q = wm_image.embed_quality(args.marked)
        print_table(f"image, 256x256 (PSNR after 8-bit: min {q['min_psnr']:.2f} dB, mean {q['mean_psnr']:.2f} dB)",
                    wm_image.attack_scores(**n))
    if "audio" not in args.skip:
        import wm_audio

        for family, label in (("spots", "catalogue spots, 1 s"), ("mixed", "spots + speech-like bursts + pink noise, 2-4 s")):
            q = wm_audio.embed_quality(args.marked, family=family)
            print_table(f"audio, {label} (SNR after 16-bit: min {q['snr_min_db']:.2f} dB)",
                        wm_audio.attack_scores(**n, family=family))
    if "text" not in args.skip:
        import wm_text

        for temperature in (1.0, 1.5):
            entropy = wm_text.mean_entropy(temperature)
            print_table(f"text, reference model, 200 tokens, gamma 0.25, delta 2, temperature {temperature} "
                        f"(entropy {entropy:.2f} nats/token)", wm_text.attack_scores(**n, temperature=temperature))
        for scale in wm_text.SIMULATED_SCALES:  # the detector apart from the tiny model's entropy
            lm = wm_text.SimulatedLM(scale)
            print_table(f"text, simulated LM ({lm.VOCAB} tokens, entropy {lm.entropy():.2f} nats/token), 200 tokens, "
                        "gamma 0.25, delta 2", wm_text.simulated_scores(scale, **n))
    print(f"\nwall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
