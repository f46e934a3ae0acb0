"""Text watermark detection scores: 200-token generations of the reference text model.

Marked texts are sampled (temperature 1) with the green-list processor (gamma 0.25,
delta 2); unmarked texts from the same model and prompts without it. Detection
re-tokenizes the decoded text, as a detector that sees only the text would. The
reference model's context is 96 positions, so generation runs in chunks that fill
the context, each conditioned on the last 16 tokens; EOS is suppressed to reach 200 tokens.

    python bench/wm_text.py            # the table for this modality alone
    python bench/wm_text.py --short    # the suites' ~40-token descriptions: detection and chrF per delta
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmeval.provenance.base import subkey  # noqa: E402
from mmeval.provenance.text import GreenList, WatermarkProcessor  # noqa: E402

MODEL = ROOT / "reference_models" / "text" / "final"
TOKENS, GAMMA, DELTA = 200, 0.25, 2.0
SIMULATED_SCALES = (6.0, 5.0)  # entropy ~1.8 and ~2.4 nats/token over 8192 tokens
CONTEXT, CARRY = 96, 16  # the model's positions; tokens carried into the next chunk


def _load():
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()  # transformers imports torchvision (DESIGN.md, Environment)
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(MODEL, local_files_only=True).eval()
    return model, Tokenizer.from_file(str(MODEL / "tokenizer.json"))


def _no_eos(input_ids, scores):
    scores[:, 0] = -math.inf  # EOS: every text reaches TOKENS tokens
    return scores


def generate(model, prompts: list[list[int]], processor, seed: int, temperature: float = 1.0) -> list[list[int]]:
    """Sample TOKENS new tokens per prompt, in chunks that fit the 96-position context.

    Each chunk restarts from the last CARRY tokens and decodes with the KV cache
    (`textgen.decode`, one seeded generator per row), the same loop the adapters use.
    """
    from mmeval.models.textgen import Decoding, decode, row_generators

    processors = [_no_eos] + ([processor] if processor is not None else [])
    gens = row_generators(seed, [str(i) for i in range(len(prompts))])
    contexts, produced = [list(p) for p in prompts], [[] for _ in prompts]
    while len(produced[0]) < TOKENS:
        width = max(len(c) for c in contexts)
        n = min(CONTEXT - width, TOKENS - len(produced[0]))
        ids = torch.tensor([[0] * (width - len(c)) + c for c in contexts])
        mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts])
        new = decode(model, ids, mask, gens, Decoding(n, True, temperature, 1.0), None, 0, processors)
        for row, tokens in zip(produced, new):
            row += tokens
        contexts = [(p + row)[-CARRY:] for p, row in zip(prompts, produced)]
    return produced


def _replace(ids: list[int], fraction: float, vocab: int, rng: np.random.Generator) -> list[int]:
    out = list(ids)
    for i in rng.choice(len(out), size=int(round(fraction * len(out))), replace=False):
        out[i] = int(rng.integers(1, vocab))
    return out


def attack_scores(n_marked: int = 200, n_unmarked: int = 1000, seed: int = 0, batch: int = 100, temperature: float = 1.0):
    """{attack: (scores of marked, scores of unmarked)}; score = -log10(p)."""
    from mmeval.catalog.products import make_products, prompt

    model, tok = _load()
    vocab = model.config.vocab_size
    green = GreenList(subkey(b"bench-text-key-0123456789abcdef", "text"), GAMMA)
    processor = WatermarkProcessor(green, DELTA)
    products = make_products(n_marked + n_unmarked, seed + 7)
    prompts = [tok.encode(prompt(p)).ids for p in products]
    rng = np.random.default_rng(seed)

    def texts(chunk, proc, s):
        out = []
        for start in range(0, len(chunk), batch):
            out += generate(model, chunk[start : start + batch], proc, s + start, temperature)
        return out

    marked = texts(prompts[:n_marked], processor, seed)
    unmarked = texts(prompts[n_marked:], None, seed + 10_000)

    def score(ids):  # decode and re-tokenize: the detector sees text only
        det = green.detect(tok.encode(tok.decode(ids)).ids)
        return -math.log10(max(det.p_value, 1e-300))

    attacks = {"none": lambda ids: ids, "replace_30%": lambda ids: _replace(ids, 0.3, vocab, rng)}
    return {name: (np.array([score(f(t)) for t in marked]), np.array([score(f(t)) for t in unmarked]))
            for name, f in attacks.items()}


class SimulatedLM:
    """A stand-in language model with a chosen entropy, to measure the detector apart from
    the reference model's: logits after token t are `scale * N(0, 1)` over VOCAB tokens,
    fixed per t (seeded by t), so text has Markov structure and repeated bigrams."""

    VOCAB = 8192

    def __init__(self, scale: float):
        self.scale = scale
        self._table: dict[int, np.ndarray] = {}

    def logits(self, previous: int) -> np.ndarray:
        if previous not in self._table:
            self._table[previous] = self.scale * np.random.default_rng(previous).standard_normal(self.VOCAB)
        return self._table[previous]

    def sample(self, green: GreenList | None, n: int, rng: np.random.Generator) -> list[int]:
        tokens = [int(rng.integers(self.VOCAB))]
        for _ in range(n):
            logits = self.logits(tokens[-1]) + (DELTA * green.mask(tokens[-1], self.VOCAB) if green else 0.0)
            p = np.exp(logits - logits.max())
            tokens.append(int(rng.choice(self.VOCAB, p=p / p.sum())))
        return tokens[1:]

    def entropy(self, samples: int = 200) -> float:
        h = []
        for t in range(samples):
            logp = self.logits(t) - np.logaddexp.reduce(self.logits(t))
            h.append(-(np.exp(logp) * logp).sum())
        return float(np.mean(h))


def simulated_scores(scale: float, n_marked: int = 200, n_unmarked: int = 1000, seed: int = 0):
    """{attack: (marked, unmarked)} scores for the simulated LM; detection on token ids."""
    lm = SimulatedLM(scale)
    green = GreenList(subkey(b"bench-text-key-0123456789abcdef", "text"), GAMMA)
    rng = np.random.default_rng(seed)
    marked = [lm.sample(green, TOKENS, rng) for _ in range(n_marked)]
    unmarked = [lm.sample(None, TOKENS, rng) for _ in range(n_unmarked)]

    def score(ids):
        return -math.log10(max(green.detect(ids).p_value, 1e-300))

    attacks = {"none": lambda ids: ids, "replace_30%": lambda ids: _replace(ids, 0.3, lm.VOCAB, rng)}
    return {name: (np.array([score(f(t)) for t in marked]), np.array([score(f(t)) for t in unmarked]))
            for name, f in attacks.items()}


@torch.no_grad()
def mean_entropy(temperature: float = 1.0, n: int = 64, seed: int = 0) -> float:
    """Mean entropy (nats) of the model's next-token distribution over unmarked generations:
    the budget a green-list mark has to work with."""
    from mmeval.catalog.products import make_products, prompt

    model, tok = _load()
    prompts = [tok.encode(prompt(p)).ids for p in make_products(n, seed + 99)]
    rows = [(p + t)[-95:] for p, t in zip(prompts, generate(model, prompts, None, seed, temperature))]
    logits = model(input_ids=torch.tensor(rows)).logits[:, 16:].float() / temperature
    logits[..., 0] = -math.inf
    logp = torch.log_softmax(logits, -1)
    return float(-(logp.exp() * logp.nan_to_num()).sum(-1).mean())


def short_descriptions(deltas=(2.0, 4.0, 8.0)) -> None:
    """What the suites generate: ~40-token descriptions from the reference adapter at its
    defaults (temperature 0.7, top-p 0.95). Per delta: share detected at p < 1e-3 and chrF."""
    import json

    import sacrebleu

    from mmeval.models.reference import ReferenceGenerator
    from mmeval.provenance.text import load_tokenizer

    rows = [json.loads(line) for line in (ROOT / "suites/data/ecommerce/text.jsonl").read_text().splitlines()]
    key = subkey(b"bench-text-key-0123456789abcdef", "text")
    tokenizer = load_tokenizer(MODEL)
    for delta in (0.0, *deltas):
        model = ReferenceGenerator("text")
        if delta:
            model.add_logits_processor(WatermarkProcessor(GreenList(key, GAMMA), delta))
        texts = model.generate([r["input"] for r in rows], seed=0, ids=[r["id"] for r in rows])
        green = GreenList(key, GAMMA)
        detected = np.mean([green.detect(tokenizer.encode(t).ids).p_value < 1e-3 for t in texts])
        chrf = sacrebleu.corpus_chrf(texts, [[r["target"] for r in rows]]).score
        print(f"reference text model, {len(rows)} descriptions, delta {delta}: detected {detected:.2f} at p < 1e-3, chrF {chrf:.1f}")


if __name__ == "__main__":
    if "--short" in sys.argv:
        short_descriptions()
        sys.exit()
    from wm_stats import print_table

    began = time.perf_counter()
    for temperature in (1.0, 1.5):
        entropy = mean_entropy(temperature)
        print_table(f"text, 200 tokens, gamma 0.25, delta 2, temperature {temperature} "
                    f"(model entropy {entropy:.2f} nats/token)", attack_scores(temperature=temperature))
    for scale in SIMULATED_SCALES:
        lm = SimulatedLM(scale)
        print_table(f"text, simulated LM ({lm.VOCAB} tokens, entropy {lm.entropy():.2f} nats/token), 200 tokens",
                    simulated_scores(scale))
    print(f"wall time {time.perf_counter() - began:.0f} s")
