"""The reference generators' networks for images and audio (the text one is GPT-2).

Both decode the catalogue's attribute vector (`mmeval.catalog.vocab.encode`): images
directly as 64x64 RGB, audio as log-magnitude STFT frames that Griffin-Lim turns into
a waveform. Training lives in `reference_models/train.py`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

N_FFT, HOP, AUDIO_SAMPLES = 512, 128, 16000
AUDIO_FRAMES = AUDIO_SAMPLES // HOP + 1  # torch.stft with center=True


class ImageGenerator(nn.Module):
    """attributes -> (3, 64, 64) image in [0, 1]: a 4x4 seed map upsampled four times."""

    def __init__(self, n_attributes: int, width: int = 64):
        super().__init__()
        self.width = width
        self.project = nn.Linear(n_attributes, width * 16)
        chans = [width, 48, 32, 24, 16]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(chans[-1], 3, 3, padding=1), nn.Sigmoid()]
        self.decode = nn.Sequential(*layers)

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.project(attributes)).view(-1, self.width, 4, 4)
        return self.decode(x)


class AudioGenerator(nn.Module):
    """attributes -> (N_FFT//2+1, AUDIO_FRAMES) log-magnitude spectrogram."""

    def __init__(self, n_attributes: int, width: int = 96):
        super().__init__()
        self.width = width
        self.project = nn.Linear(n_attributes, width * 16)
        self.decode = nn.Sequential(
            nn.ConvTranspose1d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(width, N_FFT // 2 + 1, 3, padding=1),
        )

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.project(attributes)).view(-1, self.width, 16)
        return self.decode(x)[..., :AUDIO_FRAMES]


def log_spectrogram(wave: torch.Tensor) -> torch.Tensor:
    window = torch.hann_window(N_FFT, dtype=wave.dtype, device=wave.device)
    spec = torch.stft(wave, N_FFT, HOP, window=window, center=True, return_complex=True)
    return torch.log(spec.abs() + 1e-4)


def griffin_lim(log_mag: torch.Tensor, generators: list[torch.Generator], iters: int = 32) -> torch.Tensor:
    """Waveforms from log-magnitudes; each row's initial phase comes from its own generator."""
    mag = torch.exp(log_mag.float()) - 1e-4
    mag = mag.clamp_min(0)
    window = torch.hann_window(N_FFT, device=mag.device)
    phase = torch.stack([torch.rand(mag.shape[1:], generator=g) for g in generators]).to(mag.device) * 2 * torch.pi
    spec = mag * torch.exp(1j * phase)
    for _ in range(iters):
        wave = torch.istft(spec, N_FFT, HOP, window=window, length=AUDIO_SAMPLES)
        rebuilt = torch.stft(wave, N_FFT, HOP, window=window, center=True, return_complex=True)
        spec = mag * torch.exp(1j * torch.angle(rebuilt))
    return torch.istft(spec, N_FFT, HOP, window=window, length=AUDIO_SAMPLES)


def build(kind: str, config: dict[str, Any]) -> nn.Module:
    if kind == "image":
        return ImageGenerator(config["n_attributes"], config.get("width", 64))
    if kind == "audio":
        return AudioGenerator(config["n_attributes"], config.get("width", 96))
    raise ValueError(f"no network for {kind!r}")
