"""Tiny random-initialised transformers checkpoints built in code, seeded, saved to a folder.

Nothing is downloaded: configs are small, tokenizers are written or trained locally.
- `tiny_vits`: a VITS (MMS-TTS style) text-to-speech model with a character VitsTokenizer.
- `tiny_t5`: a T5 encoder-decoder with a WordLevel tokenizer trained on a few sentences.
- `tiny_chat_lm`: a GPT-2 causal LM whose tokenizer carries a chat template.
"""

from __future__ import annotations

import json
from pathlib import Path

SENTENCES = [
    "red cotton shirt with short sleeves",
    "blue wool cap for cold days",
    "green leather bag with a steel buckle",
    "black ceramic mug for hot coffee",
    "white wood table for the kitchen",
    "a soft red wool scarf",
    "translate to french: red cotton shirt",
    "summarize: a blue wool cap for cold winter days",
]
CHARS = " abcdefghijklmnopqrstuvwxyz0123456789'-"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _offline_transformers():
    from mmeval._compat.torchvision import ensure_torchvision

    ensure_torchvision()
    import transformers

    return transformers


def tiny_vits(folder: Path, seed: int = 0, sampling_rate: int = 16_000) -> Path:
    """A VitsModel with small dims (a few ms of audio per character) and its tokenizer."""
    import torch

    tf = _offline_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(CHARS)}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = tf.VitsTokenizer(str(folder / "vocab.json"), add_blank=True, normalize=True, phonemize=False)
    config = tf.VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=8, spectrogram_bins=17, upsample_initial_channel=16, upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        duration_predictor_filter_channels=16, duration_predictor_num_flows=1, prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1, depth_separable_num_layers=1,
        sampling_rate=sampling_rate, pad_token_id=0,
    )
    torch.manual_seed(seed)
    tf.VitsModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _word_tokenizer(special: list[str], pad: str, unk: str, eos: str | None, bos: str | None = None):
    """A WordLevel fast tokenizer trained on SENTENCES."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing

    tf = _offline_transformers()
    tok = Tokenizer(models.WordLevel(unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=special))
    if eos is not None:
        tok.post_processor = TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, tok.token_to_id(eos))])
    from tokenizers import decoders

    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=pad, unk_token=unk, eos_token=eos,
                                      bos_token=bos)


def tiny_t5(folder: Path, seed: int = 0) -> Path:
    """A T5ForConditionalGeneration with 2 small layers and a locally trained tokenizer."""
    import torch

    tf = _offline_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _word_tokenizer(["<pad>", "</s>", "<unk>"], pad="<pad>", unk="<unk>", eos="</s>")
    config = tf.T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    tf.T5ForConditionalGeneration(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_chat_lm(folder: Path, seed: int = 0, chat_template: str | None = CHAT_TEMPLATE) -> Path:
    """A GPT-2 causal LM; its tokenizer has `chat_template` set in code (or none)."""
    import torch

    tf = _offline_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    roles = ["<|system|>", "<|user|>", "<|assistant|>"]
    tokenizer = _word_tokenizer(["<pad>", "<|endoftext|>", "<unk>", *roles], pad="<pad>", unk="<unk>",
                                eos=None, bos=None)
    tokenizer.eos_token = "<|endoftext|>"
    tokenizer.add_special_tokens({"additional_special_tokens": roles})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = tf.GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                           bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    tf.GPT2LMHeadModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_musicgen(folder: Path, seed: int = 0, sampling_rate: int = 24_000) -> Path:
    """A MusicgenForConditionalGeneration: tiny T5 text encoder, EnCodec and decoder, and
    the T5 tokenizer; the pipeline decodes its audio codes with EnCodec."""
    import torch

    tf = _offline_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _word_tokenizer(["<pad>", "</s>", "<unk>"], pad="<pad>", unk="<unk>", eos="</s>")
    text = tf.T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                       relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    audio = tf.EncodecConfig(sampling_rate=sampling_rate, hidden_size=16, num_filters=4, num_residual_layers=1,
                             upsampling_ratios=[4, 4], codebook_size=32, codebook_dim=16, num_lstm_layers=1,
                             target_bandwidths=[20.0])
    # MusicGen's convention: pad/bos are one past the codebook (the decoder embeds vocab_size + 1).
    decoder = tf.MusicgenDecoderConfig(vocab_size=32, max_position_embeddings=64, num_hidden_layers=1, ffn_dim=32,
                                       num_attention_heads=2, hidden_size=16, num_codebooks=2, pad_token_id=32,
                                       bos_token_id=32)
    torch.manual_seed(seed)
    model = tf.MusicgenForConditionalGeneration(tf.MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder))
    with torch.no_grad():  # EnCodec codebooks start at zero (they are learned by k-means): give them values
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
