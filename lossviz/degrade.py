"""Degraded digits: a seeded share of the digits blurred, drowned in noise or partly covered,
so that what MagFace and AdaFace read in the feature norm (image quality) has something to read.
A mix of the three kinds, one per degraded digit, in equal shares."""
from __future__ import annotations

import dataclasses
import math

import torch

from lossviz.data import Dataset

KINDS = ("blur", "noise", "occlusion")
CLEAN = -1  # the kind code of a digit left as it is
BLUR_SIGMA = 2.0  # pixels: the strokes (about 2-3 pixels wide) run together, the shape stays
NOISE_STD = 100.0  # grey levels out of 255: strokes still stand out, the background is grainy
OCCLUSION = 12  # side of the erased square, pixels: about half of a digit's height
# Where each share of digits is drawn from: the run's seed plus one of these, so training and
# test digits (and label noise) are chosen independently
TRAIN_SALT, TEST_SALT = 0xDE6, 0xDE7


def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-x**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    flat = images.float().unsqueeze(1)  # (N, 1, H, W); separable: rows, then columns
    flat = torch.nn.functional.conv2d(flat, kernel.view(1, 1, 1, -1), padding=(0, radius))
    flat = torch.nn.functional.conv2d(flat, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return flat.squeeze(1)


def _noisy(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return images.float() + NOISE_STD * torch.randn(images.shape, generator=generator)


def _occluded(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A square erased at a random place in the middle of each image, where the strokes are."""
    count, height, width = images.shape
    top, left = torch.randint(4, height - OCCLUSION - 3, (2, count, 1, 1), generator=generator)
    rows = torch.arange(height).view(1, -1, 1)
    cols = torch.arange(width).view(1, 1, -1)
    inside = (rows >= top) & (rows < top + OCCLUSION) & (cols >= left) & (cols < left + OCCLUSION)
    return images.float().masked_fill(inside, 0.0)


def degrade_digits(images: torch.Tensor, share: float, seed: int):
    """(images, kinds): round(share * N) of the (N, 28, 28) uint8 images, chosen at random,
    each degraded by one kind (KINDS, in turn over the chosen ones, so the three are equally
    many); kinds holds each image's kind index, CLEAN (-1) where it is untouched. From the
    seed alone, with a generator of its own: the same run degrades the same digits the same
    way."""
    generator = torch.Generator().manual_seed(seed)
    kinds = torch.full((len(images),), CLEAN, dtype=torch.long)
    count = round(share * len(images))
    if count == 0:
        return images, kinds
    chosen = torch.randperm(len(images), generator=generator)[:count]
    kinds[chosen] = torch.arange(count) % len(KINDS)
    out = images.clone()
    makers = {"blur": lambda batch: _gaussian_blur(batch, BLUR_SIGMA),
              "noise": lambda batch: _noisy(batch, generator),
              "occlusion": lambda batch: _occluded(batch, generator)}
    for index, kind in enumerate(KINDS):
        picked = chosen[kinds[chosen] == index]
        out[picked] = makers[kind](images[picked]).round().clamp(0, 255).to(torch.uint8)
    return out, kinds


def degrade_training_digits(images: torch.Tensor, share: float, seed: int):
    """degrade_digits for a run's training digits (seed: the run's)."""
    return degrade_digits(images, share, seed + TRAIN_SALT)


def degrade_test_digits(images: torch.Tensor, share: float, seed: int):
    """degrade_digits for a run's test digits (seed: the run's)."""
    return degrade_digits(images, share, seed + TEST_SALT)


def as_evaluated(dataset: Dataset, share: float, seed: int) -> Dataset:
    """The data set with its test digits as a run with this share and seed evaluates them, so
    that a page shows the picked point's own (degraded) digit and takes that one apart."""
    if share == 0:
        return dataset
    images, _ = degrade_test_digits(torch.from_numpy(dataset.test_images.copy()), share, seed)
    return dataclasses.replace(dataset, test_images=images.numpy())
