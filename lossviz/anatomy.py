"""One digit taken through the loss, number by number: its feature, the cosine and angle to each
class weight, the target logit before and after the margin, the scaled logits, the
probabilities, the loss, and the way the loss's gradient pushes the feature.

Every number comes from lossviz.losses (margin_logits, target_from_cos) and torch's autograd:
the loss math lives there once. The model is reached through DigitModel, the little that this
module needs of a trained network, so that any source of weights (a checkpoint today, the live
trainer tomorrow) can serve it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from lossviz.checkpoint import load_checkpoint
from lossviz.data import Dataset
from lossviz.losses import (LOSSES, initial_state, margin_logits, norm_penalty,
                            norm_target_input, resolve_params, target_from_cos)
from lossviz.metrics import unit_rows
from lossviz.model import to_input
from lossviz.train import params_in_force, predict_logits, preset_config, settled_params


@dataclass(frozen=True)
class DigitModel:
    """What taking a digit apart needs of a trained network, at one step of its training.
    The loss and its parameters may be swapped (dataclasses.replace) for what the page has
    chosen since: a live run takes them on at its next step."""
    loss: str
    params: dict  # the loss's parameters (warm-up and lambda applied)
    weights: np.ndarray  # (C, D) class weights as trained, their lengths included
    bias: np.ndarray | None  # (C,) the network's bias, if it has one: only softmax uses it
    step: int
    features_of: Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) uint8 -> (N, D) features
    # the loss's running values at this step (CurricularFace's t, AdaCos's s, AdaFace's norm
    # statistics): a digit is taken apart with them, as the next batch would be
    state: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.weights.shape[1]

    def bias_for(self, loss: str) -> np.ndarray | None:
        return self.bias if loss == "softmax" else None


def model_from_checkpoint(data: bytes, dataset: Dataset) -> DigitModel:
    """A DigitModel from checkpoint bytes (lossviz.checkpoint), evaluated on the CPU: one digit
    at a time needs no accelerator, and the training process keeps its own."""
    with _one_thread():  # hundreds of tiny tensors checked and copied
        run = load_checkpoint(data, dataset, device="cpu")
    model = run.model.eval()

    @torch.no_grad()
    def features_of(images: np.ndarray) -> np.ndarray:
        with _one_thread():
            return model(to_input(torch.from_numpy(np.array(images, dtype=np.uint8)))).numpy()

    bias = None if model.bias is None else model.bias.detach().numpy().copy()
    # one weight per class: with sub-centres, each class's dominant one (the page compares
    # every loss on the same class weights)
    weights, _ = run.class_weights()
    return DigitModel(run.config.loss, params_in_force(run.config, run.step),
                      weights.numpy().copy(), bias, run.step, features_of, dict(run.loss_state))


@contextmanager
def _one_thread():
    """A digit or two, or a checkpoint's small tensors, need no parallelism, and waiting for it
    costs dearly: while training keeps every core busy, a two-thread forward pass of one digit
    waits for a second core to be free (measured on a loaded 2-core machine: 150-230 ms,
    against 0.3 ms on one thread). With OpenMP the count is the calling thread's own, so other
    sessions are not affected."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Anatomy:
    """One feature under one loss, for one target class. Logits and probabilities have one
    entry per class; angles are in degrees."""
    loss: str
    params: dict
    label: int  # the class the loss is computed for
    feature: np.ndarray  # (D,)
    cos: np.ndarray  # cosine between the feature and each class weight
    target_term: float  # f(theta) for the target class: its cosine after the margin, unscaled
    plain_logits: np.ndarray  # scaled, no margin on any class: the largest is the prediction
    logits: np.ndarray  # scaled, margin on the target: what the loss sees
    probabilities: np.ndarray  # softmax of logits
    loss_value: float
    push: np.ndarray  # -dL/dx: where one gradient step moves the feature

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.feature))

    @property
    def angles(self) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(self.cos, -1.0, 1.0)))

    @property
    def prediction(self) -> int:
        return int(np.argmax(self.plain_logits))

    @property
    def target_probability(self) -> float:
        return float(self.probabilities[self.label])

    @property
    def closest_other(self) -> int:
        """The other class whose weight is nearest in angle: the one the target must beat."""
        others = self.cos.copy()
        others[self.label] = -np.inf
        return int(np.argmax(others))

    @property
    def tangent_push(self) -> np.ndarray:
        """The push along the circle or sphere: its component along the feature only changes
        the feature's length, which the normalized losses do not see."""
        unit = self.feature / max(self.norm, 1e-12)
        return self.push - (self.push @ unit) * unit


def take_apart(loss: str, params: dict, feature, weights, label: int, bias=None,
               state: dict | None = None) -> Anatomy:
    """The loss of one feature for class `label`, and every number on the way to it; state:
    the loss's running values (without them, their start: t = 0, AdaCos's fixed s, AdaFace's
    n = 0)."""
    state = state or initial_state(loss, len(weights))
    params = resolve_params(loss, params)
    x = torch.tensor(np.asarray(feature, dtype=np.float64), requires_grad=True)
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    b = None if bias is None else torch.as_tensor(np.asarray(bias, dtype=np.float64))
    logits = margin_logits(loss, x[None], w, torch.tensor([label]), b, state=state, **params)[0]
    value = F.cross_entropy(logits[None], torch.tensor([label])) \
        + norm_penalty(loss, x[None], **params)  # MagFace's regulariser of the norm
    (gradient,) = torch.autograd.grad(value, x)
    logits = logits.detach()
    # The same logits with no margin anywhere: a class's column carries a margin only while it
    # is the target, so take the target's column from a run where another class is.
    other = (label + 1) % len(w)
    plain = margin_logits(loss, x.detach()[None], w, torch.tensor([other]), b, state=state,
                          **params)[0]
    plain[other] = logits[other]
    cos = unit_rows(x.detach().numpy()[None]) @ unit_rows(w.numpy()).T
    # MagFace's margin at this feature's norm; AdaFace's n from the run's norm statistics
    norm = norm_target_input(loss, x.detach()[None], params, state)
    target_term = target_from_cos(loss, torch.tensor(cos[0, label]), params,
                                  norm=None if norm is None else norm[0])
    return Anatomy(loss, params, int(label), x.detach().numpy().copy(), cos[0],
                   float(target_term), plain.numpy(), logits.numpy(),
                   torch.softmax(logits, 0).numpy(), float(value.detach()), -gradient.numpy())


def take_apart_with(model: DigitModel, feature, label: int) -> Anatomy:
    """One feature under the model's own loss, parameters, weights and bias."""
    return take_apart(model.loss, model.params, feature, model.weights, label,
                      model.bias_for(model.loss), model.state)


def family_params(loss: str, dim: int) -> dict:
    """A loss's parameters as its preset for this dimension trains with, once warm-up is over
    and lambda has annealed to its floor."""
    return settled_params(preset_config(loss, dim))


def under_every_loss(model: DigitModel, feature, label: int,
                     chosen: dict[str, dict] | None = None) -> tuple[Anatomy, ...]:
    """The same feature and class weights under every loss of the family: the model's own loss
    with its parameters in force, another loss with `chosen[loss]` or else its preset. Only
    softmax takes the bias (zero when the model was not trained with one)."""
    chosen = {model.loss: model.params} | (chosen or {})
    return tuple(
        take_apart(name, chosen[name] if name in chosen else family_params(name, model.dim),
                   feature, model.weights, label, model.bias_for(name),
                   model.state if name == model.loss else None)  # the others never ran
        for name in LOSSES)


def predicted_class(model: DigitModel, feature) -> int:
    """The class the model predicts for a feature: the largest logit without any margin."""
    bias = model.bias_for(model.loss)
    bias = None if bias is None else torch.as_tensor(bias, dtype=torch.float64)
    x = torch.as_tensor(np.asarray(feature, dtype=np.float64))[None]
    weights = torch.as_tensor(model.weights, dtype=torch.float64)
    logits = predict_logits(model.loss, x, weights, bias)
    return int(logits.argmax())
