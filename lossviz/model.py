"""A tiny CNN whose last layer is a 2- or 3-dimensional feature, and the class weights that the
margin losses compare it with."""
from __future__ import annotations

import math

import torch
from torch import nn

PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081  # MNIST's, close enough for Fashion-MNIST too


def _conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(channels_out), nn.PReLU(channels_out), nn.MaxPool2d(2))


class FeatureNet(nn.Module):
    """28x28 digits -> a feature of `dim` numbers. The feature layer is linear: a ReLU in front
    of it would trap every feature in one quadrant (octant in 3D)."""

    def __init__(self, dim: int = 2, num_classes: int = 10, bias: bool = False, width: int = 16,
                 subcenters: int = 0):
        super().__init__()
        # width 16: at width 8 a step is twice as fast, but 2D NormFace and ArcFace stay
        # below 90% test accuracy after 30 epochs on the bundled digits
        self.body = nn.Sequential(
            _conv_block(1, width), _conv_block(width, 2 * width), _conv_block(2 * width, 4 * width),
            nn.Flatten(), nn.Linear(4 * width * 3 * 3, 64, bias=False), nn.BatchNorm1d(64),
            nn.PReLU(64), nn.Linear(64, dim))
        # Class weights (C, D) like nn.Linear.weight; the loss decides whether they are normalized.
        # With sub-centres (Sub-center ArcFace), K per class: (C, K, D).
        self.weight = nn.Parameter(subcenter_directions(num_classes, subcenters, dim)
                                   if subcenters else spread_directions(num_classes, dim))
        self.bias = nn.Parameter(torch.zeros(num_classes)) if bias else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


def spread_directions(count: int, dim: int) -> torch.Tensor:
    """Unit vectors spread evenly: around the circle in 2D, a Fibonacci lattice on the sphere
    in 3D. Class weights start here: from a random start two classes can end up sharing one
    sector of the circle, and features cannot pass through a third class to separate them."""
    index = torch.arange(count, dtype=torch.float32)
    if dim == 2:
        angle = 2 * math.pi * index / count
        return torch.stack([angle.cos(), angle.sin()], dim=1)
    z = 1 - 2 * (index + 0.5) / count
    radius = (1 - z * z).sqrt()
    angle = math.pi * (3 - math.sqrt(5)) * index
    points = torch.stack([radius * angle.cos(), radius * angle.sin(), z], dim=1)
    if dim == 3:
        return points
    raise ValueError(f"dim must be 2 or 3, got {dim}")


# How far a class's sub-centres start from its evenly spread direction (radians, roughly):
# close enough that the dominant sub-centres of two neighbouring classes start about as far
# apart as single class weights do (36 degrees in 2D), far enough apart that each sub-centre
# has its own side of the class to gather features on.
SUBCENTER_OFFSET = 0.1


def subcenter_directions(count: int, subcenters: int, dim: int) -> torch.Tensor:
    """(C, K, D): each class's K sub-centres around its evenly spread direction, offset
    sideways (along the circle in 2D, around it on the sphere in 3D); K = 1: the direction."""
    centres = spread_directions(count, dim)
    k = torch.arange(subcenters, dtype=torch.float32)
    if dim == 2:  # in a row along the circle, the middle one on the class's direction
        sideways = torch.stack([-centres[:, 1], centres[:, 0]], dim=1)
        offsets = (k - (subcenters - 1) / 2)[None, :, None] * sideways[:, None, :]
    else:  # in a ring around the class's direction, in its tangent plane
        helper = torch.where(centres[:, 2:3].abs() < 0.9, torch.tensor([0.0, 0.0, 1.0]),
                             torch.tensor([1.0, 0.0, 0.0]))
        u = torch.nn.functional.normalize(torch.linalg.cross(centres, helper), dim=1)
        v = torch.linalg.cross(centres, u)
        angle = 2 * math.pi * k / subcenters
        offsets = (angle.cos()[None, :, None] * u[:, None, :]
                   + angle.sin()[None, :, None] * v[:, None, :])
        offsets = offsets * (subcenters > 1)
    return torch.nn.functional.normalize(centres[:, None, :] + SUBCENTER_OFFSET * offsets, dim=2)


def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float, standardized."""
    return ((images_uint8.float() / 255.0 - PIXEL_MEAN) / PIXEL_STD).unsqueeze(1)
