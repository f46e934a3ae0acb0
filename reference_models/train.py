"""Train the reference generators on the catalogue's training split (CPU, minutes).

    python reference_models/train.py text|image|audio [--threads 2]

Each writes `<modality>/final/` and `<modality>/degraded/` (the same network at an early
checkpoint: the candidate the suites compare against the reference), then refreshes
`SHA256SUMS`. Fully seeded: the same command on the same torch build gives the same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mmeval.catalog import prompt, training_products  # noqa: E402
from mmeval.catalog.vocab import encode, one_hot_size  # noqa: E402

STEPS = {"text": (1000, 60), "image": (1200, 60), "audio": (1000, 40)}  # (final, degraded)


def _save_module(model: torch.nn.Module, folder: Path, config: dict) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def train_text(steps: int, degraded_at: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()  # transformers imports torchvision (DESIGN.md, Environment)
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    products = training_products()
    texts = [f"{prompt(p)} {p.description}" for p in products]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=384, special_tokens=["<|endoftext|>"], show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>", bos_token="<|endoftext|>")
    eos = fast.eos_token_id
    encoded = [fast(t)["input_ids"] + [eos] for t in texts]
    length = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), length), eos)
    mask = torch.zeros((len(encoded), length), dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
        mask[i, : len(e)] = 1
    config = GPT2Config(vocab_size=len(fast), n_positions=96, n_embd=96, n_layer=3, n_head=4,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    order = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        batch = torch.randint(len(encoded), (32,), generator=order)
        labels = ids[batch].masked_fill(mask[batch] == 0, -100)
        # The first EOS after the text is a target too: it teaches the model to stop.
        lengths = mask[batch].sum(1)
        labels[torch.arange(32), (lengths - 1).clamp_max(length - 1)] = eos
        loss = model(input_ids=ids[batch], attention_mask=mask[batch], labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            print(f"text step {step} loss {loss.item():.3f}", flush=True)
        if step in (degraded_at, steps):
            folder = HERE / "text" / ("degraded" if step == degraded_at else "final")
            model.save_pretrained(folder, safe_serialization=True)
            fast.save_pretrained(folder)


def _attribute_batch(products) -> torch.Tensor:
    return torch.tensor([encode(p.category, p.colour, p.material) for p in products], dtype=torch.float32)


def train_image(steps: int, degraded_at: int) -> None:
    from mmeval.catalog.images import render
    from mmeval.models.refnets import ImageGenerator

    products = training_products()
    attrs = _attribute_batch(products)
    images = torch.from_numpy(np.stack([render(p) for p in products])).permute(0, 3, 1, 2).float() / 255
    torch.manual_seed(0)
    config = {"kind": "image", "n_attributes": one_hot_size(), "width": 64, "steps": None}
    model = ImageGenerator(one_hot_size(), 64)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    order = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        batch = torch.randint(len(products), (16,), generator=order)
        loss = torch.nn.functional.mse_loss(model(attrs[batch]), images[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"image step {step} loss {loss.item():.4f}", flush=True)
        if step in (degraded_at, steps):
            _save_module(model, HERE / "image" / ("degraded" if step == degraded_at else "final"), {**config, "steps": step})


def train_audio(steps: int, degraded_at: int) -> None:
    from mmeval.catalog.audio import synthesize
    from mmeval.models.refnets import AudioGenerator, log_spectrogram

    products = training_products(1000)
    attrs = _attribute_batch(products)
    specs = log_spectrogram(torch.from_numpy(np.stack([synthesize(p) for p in products])))
    torch.manual_seed(0)
    config = {"kind": "audio", "n_attributes": one_hot_size(), "width": 96, "steps": None}
    model = AudioGenerator(one_hot_size(), 96)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    order = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        batch = torch.randint(len(products), (16,), generator=order)
        loss = torch.nn.functional.mse_loss(model(attrs[batch]), specs[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"audio step {step} loss {loss.item():.4f}", flush=True)
        if step in (degraded_at, steps):
            _save_module(model, HERE / "audio" / ("degraded" if step == degraded_at else "final"), {**config, "steps": step})


def write_manifest() -> None:
    """SHA256SUMS over every file the loaders read (sha256sum -c format)."""
    lines = []
    for path in sorted(HERE.glob("*/*/*")):
        if path.is_file() and path.parent.name in ("final", "degraded"):
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(HERE).as_posix()}\n")
    (HERE / "SHA256SUMS").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modality", choices=["text", "image", "audio", "manifest"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    if args.modality != "manifest":
        {"text": train_text, "image": train_image, "audio": train_audio}[args.modality](*STEPS[args.modality])
    write_manifest()
    print(f"{args.modality}: {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()
