"""SpecAugment's frequency and time masking (Park et al. 2019), for training only.

    feats = spec_augment(feats, generator, freq_masks=2, freq_width=8, time_masks=2, time_width=40)

Each frequency mask sets bands [f0, f0 + f) to the utterance mean, with f ~ U{0..freq_width} and
f0 ~ U{0..F - f}; each time mask does the same to frames [t0, t0 + t), t ~ U{0..time_width} capped
at `max_time_ratio` · T (the paper's p: 1.0 on LibriSpeech, 0.2 on Switchboard; the cap keeps short
utterances from being blanked out). The paper masks with zeros after mean normalisation, which is
masking with the mean; using the mean also suits unnormalised features. Time warping is left out:
the paper calls it the most expensive and the least influential of the three. Mask log-mel
features before context stacking, so a masked band lines up across the stacked frames; on MFCCs a
"band" is a range of cepstral coefficients, which means less.
"""

from __future__ import annotations

import torch
from torch import Tensor


def spec_augment(feats: Tensor, generator: torch.Generator | None = None, *, freq_masks: int = 2,
                 freq_width: int = 8, time_masks: int = 2, time_width: int = 40,
                 max_time_ratio: float = 0.2) -> Tensor:
    """(T, F) -> (T, F), a masked copy; `feats` is left unchanged. Draws from `generator`
    (a CPU torch.Generator), so a seeded generator gives the same masks every run."""
    if feats.dim() != 2:
        raise ValueError(f"spec_augment expects (T, F) features, got shape {tuple(feats.shape)}")
    if min(freq_masks, freq_width, time_masks, time_width) < 0 or not 0 <= max_time_ratio <= 1:
        raise ValueError("mask counts and widths must be >= 0 and max_time_ratio in [0, 1], got "
                         f"freq_masks={freq_masks}, freq_width={freq_width}, time_masks={time_masks}, "
                         f"time_width={time_width}, max_time_ratio={max_time_ratio}")
    n_frames, n_feats = feats.shape
    keep = torch.ones(n_frames, n_feats, dtype=torch.bool)
    for _ in range(freq_masks):
        lo, hi = _span(n_feats, min(freq_width, n_feats), generator)
        keep[:, lo:hi] = False
    for _ in range(time_masks):
        lo, hi = _span(n_frames, min(time_width, int(max_time_ratio * n_frames)), generator)
        keep[lo:hi, :] = False
    return torch.where(keep.to(feats.device), feats, feats.mean())


def _span(size: int, max_width: int, generator: torch.Generator | None) -> tuple[int, int]:
    """[lo, hi) with width ~ U{0..max_width} and lo ~ U{0..size - width}."""
    width = int(torch.randint(0, max_width + 1, (), generator=generator))
    lo = int(torch.randint(0, size - width + 1, (), generator=generator))
    return lo, lo + width
