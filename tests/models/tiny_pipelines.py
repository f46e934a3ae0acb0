"""Tiny random-initialised diffusers pipelines built in code, the way diffusers' own fast
tests build theirs (`get_dummy_components`), saved with `save_pretrained` to a folder.

Nothing downloads: the CLIP tokenizer gets a byte-level vocabulary made here, so the
folder loads offline like any pipeline a team ships. Weights are seeded, so two builds
give the same files.
"""

from __future__ import annotations

from pathlib import Path


def _byte_chars() -> list[str]:
    """CLIP's byte -> printable unicode table (GPT-2's `bytes_to_unicode`)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = printable[:], 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for _, c in sorted(zip(printable, codes))]


def tiny_clip_tokenizer(model_max_length: int = 77):
    """A CLIP BPE tokenizer over single bytes plus a few merges for product words."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in _byte_chars():
        vocab[char] = len(vocab)
    for char in _byte_chars():
        vocab[char + "</w>"] = len(vocab)
    merges = [("r", "e"), ("c", "a"), ("ca", "p</w>"), ("w", "o"), ("o", "l</w>"), ("wo", "ol</w>")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=model_max_length)


def build_tiny_sd(folder: Path, *, seed: int = 0, sample_size: int = 16) -> Path:
    """A StableDiffusionPipeline with 32x32 outputs (latents `sample_size`^2, VAE factor 2).

    The scheduler is Euler ancestral: it draws fresh noise at every step, so tests see
    whether each sample's generator (not the batch's) drives all of it."""
    import torch
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=2,
    )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[4, 8], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=64, layer_norm_eps=1e-5,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=tokenizer.model_max_length,
    ))
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, image_encoder=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
