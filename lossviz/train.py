"""One training run as plain code: a config, a model, a step, an evaluation. The CLI runs it in
a loop; the live Trainer runs the same steps in a worker process."""
from __future__ import annotations

import dataclasses
import io
import math
import numbers
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from lossviz.data import Dataset
from lossviz.degrade import degrade_test_digits, degrade_training_digits
from lossviz.i18n import LossvizError, Message
from lossviz.losses import (LOSSES, annealed_lambda, class_cosines, dominant_subcenters,
                            initial_state, margin_logits, next_state, norm_penalty,
                            resolve_params)
from lossviz.metrics import angle_metrics
from lossviz.model import FeatureNet, to_input
from lossviz.verification import OpenSetVerification, open_set_verification

DEVICES = ("auto", "cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "sgd")
# A cross-entropy above this is divergence, not learning: a normalized loss cannot pass
# 2 s + ln C (about 130 at s = 64), and the norm-keeping losses of a healthy run stay far below.
EXPLODED_LOSS = 1e3
# Weights whose norm grows this much in one update have exploded: a healthy step of this
# network changes it by at most a few times its size (measured: 5x, SGD at lr 0.1, first step).
EXPLODED_GROWTH = 1e3


@dataclass(frozen=True)
class Rule:
    """The type and range of one TrainConfig field."""
    kind: type  # int (a bool is not one here), float (an int will do) or str
    low: float = -math.inf
    high: float = math.inf
    choices: tuple = ()
    above_low: bool = False  # low itself is not allowed (a learning rate of 0)

    def check(self, name: str, value) -> None:
        if self.kind is str:
            if not isinstance(value, str) or value not in self.choices:
                raise LossvizError("messages.config.not_a_choice", name=name, value=repr(value),
                                   choices=", ".join(self.choices))
            return
        whole = self.kind is int
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if whole else
                                                     numbers.Real):
            raise LossvizError("messages.config.not_whole" if whole else
                               "messages.config.not_a_number", name=name, value=repr(value))
        too_low = value <= self.low if self.above_low else value < self.low
        if not math.isfinite(value) or too_low or value > self.high:
            raise LossvizError("messages.config.outside", name=name, value=value,
                               range=self.describe())

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high

    def describe(self) -> str:
        """The range as a reader writes it: [0, 1], (0, inf)."""
        def end(bound):
            return "inf" if math.isinf(bound) else f"{bound:g}" if self.kind is float else \
                str(int(bound))
        return (f"{'(' if self.above_low else '['}{end(self.low)}, {end(self.high)}"
                f"{')' if math.isinf(self.high) else ']'}")


_LAMBDA = LOSSES["sphereface"].param("lam")  # the annealed lambda must stay in lam's range
# Every field of TrainConfig but params (resolve_params checks those). The ranges keep each
# setting where the code that uses it cannot divide by zero, overflow or allocate without end.
RULES = {
    "loss": Rule(str, choices=tuple(LOSSES)),
    "dim": Rule(int, 2, 3),
    "epochs": Rule(int, 0, 10_000),
    "batch_size": Rule(int, 1, 65_536),
    # no upper end: a destructive rate is caught by Run.train_step, which undoes the step
    "lr": Rule(float, 0.0, above_low=True),
    "lr_floor": Rule(float, 0.0, 1.0),  # above 1 the "decay" would raise the rate
    "weight_lr_scale": Rule(float, 0.0, 1.0),  # 0 keeps the class weights where they start
    "optimizer": Rule(str, choices=OPTIMIZERS),
    "seed": Rule(int, 0, 2**63 - 1),
    "shift": Rule(int, 0, 8),  # the padding grows with it; 8 of 28 pixels is plenty
    "warmup_steps": Rule(int, 0, 10_000_000),
    "lambda_base": Rule(float, 0.0, _LAMBDA.high),
    "lambda_gamma": Rule(float, 0.0, 100.0),  # negative: (1 + gamma step) reaches 0
    "lambda_power": Rule(float, 0.0, 100.0),  # negative: lambda grows without end
    "lambda_min": Rule(float, 0.0, _LAMBDA.high),
    "device": Rule(str, choices=DEVICES),
    # at most 8 of the 10 classes held out: training needs two classes to tell apart
    "held_out_classes": Rule(int, 0, 8),
    # at most half: beyond that a class's flipped digits could outnumber its own
    "label_noise": Rule(float, 0.0, 0.5),
    # at most half, like label noise: the clean digits stay the majority they are measured on
    "degrade": Rule(float, 0.0, 0.5),
}
OPEN_SET_HELD_OUT = 2  # open-set mode's default: train on digits 0-7, verify on 8 and 9


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "softmax"
    params: dict = field(default_factory=dict)  # the loss's s, m, m1, m2, m3 (defaults if absent)
    dim: int = 2  # feature dimension: 2 (circle) or 3 (sphere)
    epochs: int = 30
    batch_size: int = 128  # large enough to keep both CPU cores busy, small enough to move
    # 1e-2 rather than 3e-3 once the class weights are slowed (below): the normalized losses
    # end about 1.5 points more accurate in 2D (ArcFace 94.5 -> 95.9%, seed 0), Softmax the same
    lr: float = 1e-2
    lr_floor: float = 0.02  # cosine decay over the planned epochs, down to lr * lr_floor
    # The class weights learn at lr * weight_lr_scale. Adam moves every coordinate by about lr
    # per step whatever the gradient's size, so a unit-length weight (every normalized loss)
    # turned by up to 0.25 degrees a step at lr 3e-3: in 2D two weights chased the same
    # half-learned features and met (closest pair, from 36 degrees: ArcFace 17, CosFace 18,
    # NormFace 13, combined 13; ArcFace at s=32: 0). Margin warm-up, a smaller lr and SGD did not
    # prevent it. At 0.03 every 2D preset keeps its closest pair above 32 degrees, a margin raised
    # mid-run too (benchmarks/bench_presets.py). 0 keeps the weights where they start, evenly
    # spread.
    weight_lr_scale: float = 0.03
    optimizer: str = "adam"  # Adam trains every preset; SGD+momentum is there to compare
    seed: int = 0
    shift: int = 2  # random shifts up to this many pixels: 4,000 digits are few to learn from
    warmup_steps: int = 0  # margins ramp from "no margin" to their value over these steps
    # SphereFace / L-Softmax: lambda = max(lambda_min, base (1 + gamma step)^-power)
    lambda_base: float = 1000.0
    lambda_gamma: float = 0.12
    lambda_power: float = 1.0
    lambda_min: float = 5.0
    device: str = "auto"
    # Open set: the last this-many classes are never trained on (the model has that many fewer
    # class weights) and only judged by verification, as faces of people never seen are.
    # 0 trains on every class (closed set).
    held_out_classes: int = 0
    # This share of the training labels is flipped to another class at random (seeded), once,
    # before training: what Sub-center ArcFace's extra sub-centres are for. Test labels stay true.
    label_noise: float = 0.0
    # This share of the training digits and of the test digits is degraded (blurred, noisy or
    # partly erased, lossviz.degrade), seeded: what MagFace and AdaFace read the norm for.
    degrade: float = 0.0

    def __post_init__(self):
        """Every field's type and range, here, so that the CLI, the pages and a loaded
        checkpoint meet the same rules and a bad value fails with its name, not deep inside
        a training step."""
        for name, rule in RULES.items():
            rule.check(name, getattr(self, name))
        _check_params(self.loss, self.params)


def _check_params(loss: str, params) -> None:
    if not isinstance(params, dict) or not all(
            isinstance(name, str) and isinstance(value, numbers.Real)
            and not isinstance(value, bool) for name, value in params.items()):
        raise LossvizError("messages.config.params", value=repr(params)[:200])
    if "lam" in params:  # params_in_force would overwrite it at every step
        raise LossvizError("messages.config.lam_annealed")
    try:
        resolve_params(loss, params)
    except LossvizError:
        raise
    except ValueError as err:  # losses.py says what is wrong, in English only
        raise LossvizError("messages.config.loss_params", reason=str(err)) from None


def preset_config(loss: str, dim: int, **overrides) -> TrainConfig:
    """The loss's preset for this feature dimension, with any field overridden."""
    params = dict(LOSSES[loss].presets.get(f"{dim}d", {}))
    params.update(overrides.pop("params", {}))
    return TrainConfig(loss=loss, params=params, dim=dim, **overrides)


def needs_reset(old: TrainConfig, new: TrainConfig) -> bool:
    """Settings a running model cannot take on: they need a new run."""
    return any(getattr(old, name) != getattr(new, name)
               for name in ("dim", "seed", "device", "batch_size", "shift", "held_out_classes",
                            "label_noise", "degrade")) or subcenters(old) != subcenters(new)


def subcenters(config: TrainConfig) -> int:
    """Sub-centres per class the model's weight holds: K for Sub-center ArcFace, 0 for a plain
    (C, D) weight. A running model cannot change it: its weight has another shape."""
    if not LOSSES[config.loss].subcenters:
        return 0
    return resolve_params(config.loss, config.params)["k"]


def trained_classes(config: TrainConfig, dataset: Dataset) -> int:
    """How many classes a run trains on: all but the last held_out_classes (an open set)."""
    return len(dataset.class_names) - config.held_out_classes


def build_model(config: TrainConfig, classes: int) -> FeatureNet:
    return FeatureNet(config.dim, classes, bias=config.loss == "softmax",
                      subcenters=subcenters(config))


def subcenter_note(off_dominant: tuple[float, float], label_noise: float) -> Message:
    """What the sub-centres show: how many training digits sit nearest a sub-centre of their
    class other than its dominant one, with their true labels and with flipped labels."""
    clean, flipped = off_dominant
    if label_noise == 0 or math.isnan(flipped):
        return Message("subcenter.note.clean", {"clean": clean})
    return Message("subcenter.note.noisy", {"clean": clean, "flipped": flipped})


def flip_labels(labels: torch.Tensor, fraction: float, classes: int, seed: int):
    """(labels, flipped): round(fraction * N) labels, chosen at random, each changed to another
    class chosen at random; flipped marks them. From the seed alone, with a generator of its
    own, so the same run flips the same labels and the data order is not disturbed."""
    generator = torch.Generator().manual_seed(seed + 0x5EED)
    count = round(fraction * len(labels))
    chosen = torch.randperm(len(labels), generator=generator)[:count]
    flipped = torch.zeros(len(labels), dtype=torch.bool)
    flipped[chosen] = True
    noisy = labels.clone()
    # a shift of 1..C-1 classes: never the same class again
    noisy[chosen] = (labels[chosen] + torch.randint(1, classes, (count,), generator=generator)) \
        % classes
    return noisy, flipped


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if not available[name]:
        raise ValueError(f"device {name!r} is not available on this machine")
    return torch.device(name)


def params_in_force(config: TrainConfig, step: int) -> dict:
    """The loss parameters used at this step: margins warmed up, lambda annealed."""
    spec = LOSSES[config.loss]
    params = resolve_params(config.loss, config.params)
    ramp = min(1.0, step / config.warmup_steps) if config.warmup_steps > 0 else 1.0
    for p in spec.params:
        if p.neutral is not None and not p.integer:
            params[p.name] = p.neutral + ramp * (params[p.name] - p.neutral)
    if "lam" in params:
        params["lam"] = annealed_lambda(step, config.lambda_base, config.lambda_gamma,
                                        config.lambda_power, config.lambda_min)
    return params


def settled_params(config: TrainConfig) -> dict:
    """The loss parameters once warm-up is over and lambda has annealed to its floor."""
    return params_in_force(config, sys.maxsize)


def predict_logits(loss: str, features: torch.Tensor, weight: torch.Tensor, bias=None):
    """Logits without any margin: what decides the predicted class at test time. A (C, K, D)
    weight (sub-centres): each class's largest cosine."""
    spec = LOSSES[loss]
    if weight.dim() == 3:
        return class_cosines(torch.nn.functional.normalize(features, dim=1), weight)
    w = weight if spec.keeps_weight_norm else torch.nn.functional.normalize(weight, dim=1)
    x = features if spec.keeps_feature_norm else torch.nn.functional.normalize(features, dim=1)
    logits = x @ w.T
    return logits + bias if bias is not None else logits


def margin_generator(seed: int, step: int) -> torch.Generator:
    """Where a random margin (ElasticFace) is drawn from at this step: from the seed and the
    step alone, so a run carried over as bytes, a checkpoint and a rerun draw the same margins
    and there is no generator state to save. (hash of a tuple of ints is the same in every
    process.)"""
    return torch.Generator().manual_seed(hash((seed, step)) & (2**63 - 1))


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each (28, 28) image moved by its own random whole-pixel offset, zeros shifted in."""
    if shift <= 0:
        return images
    count, height, width = images.shape
    padded = torch.nn.functional.pad(images, (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, count, 1), generator=generator)
    rows = (torch.arange(height) + dy)[:, :, None]
    cols = (torch.arange(width) + dx)[:, None, :]
    return padded[torch.arange(count)[:, None, None], rows, cols]


def _norm(tensors) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([t.detach().norm() for t in tensors]))


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    features: np.ndarray  # (N, D)
    labels: np.ndarray
    predictions: np.ndarray
    weights: np.ndarray  # (C, D)
    mean_own_angle: float  # degrees
    min_weight_angle: float  # degrees
    verification: OpenSetVerification | None = None  # open set only
    # Sub-center ArcFace: all (C, K, D) sub-centres; `weights` then holds each class's
    # dominant one (the sub-centre most of its training digits pick), which the figures and
    # angles that want one weight per class use
    subcenters: np.ndarray | None = None
    # ... and the share of training digits (of those that elect the dominant sub-centres) whose
    # own class's nearest sub-centre is not the dominant one: (true labels, flipped labels)
    off_dominant: tuple[float, float] | None = None
    # With degraded digits: the mean feature norm of the clean and of the degraded ones among
    # the evaluated digits (what MagFace and AdaFace take for image quality)
    quality_norms: tuple[float, float] | None = None


class Run:
    """A model, its optimizer and its place in the data: one step at a time."""

    def __init__(self, config: TrainConfig, dataset: Dataset, eval_points: int = 2000):
        self.config = config
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.known_classes = trained_classes(config, dataset)
        self.model = build_model(config, self.known_classes)
        # channels-last convolutions: 1.25x faster training steps and 2x faster evaluation on
        # this CPU (measured: 5,000 against 4,000 samples/s); the 1-channel input is the same
        # memory either way
        self.model.to(self.device, memory_format=torch.channels_last)
        self._optimizer = None  # made at the first step: see optimizer
        # CurricularFace's t, AdaCos's s: values the loss carries from batch to batch
        self.loss_state = initial_state(config.loss, self.known_classes)
        tensors = dataset.tensors
        train_images, clean = self.known(tensors["train_images"], tensors["train_labels"])
        # degraded once, before training; train_kinds/test_kinds say which and how (CLEAN: not)
        self.train_images, self.train_kinds = degrade_training_digits(
            train_images, config.degrade, config.seed)
        # the labels training sees; flipped marks those that label noise changed
        self.train_labels, self.flipped = flip_labels(clean, config.label_noise,
                                                      self.known_classes, config.seed)
        # every class, held-out ones too: evaluate() verifies on those
        self.test_images, self.test_kinds = degrade_test_digits(tensors["test_images"],
                                                                config.degrade, config.seed)
        self.test_labels = tensors["test_labels"]
        self.eval_images = self.test_images[:eval_points]
        self.eval_labels = self.test_labels[:eval_points]
        self.order_generator = torch.Generator().manual_seed(config.seed)
        self.step, self.epoch, self._cursor = 0, 0, 0
        # the state before the last update, kept until the next step has seen its weights
        self._undo: dict | None = None
        self.divergence: Message | None = None  # why the last step failed; None after a good one
        self._order = torch.randperm(len(self.train_labels), generator=self.order_generator)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Made when first used. A Run that is only evaluated (the web server's first snapshot
        of a new run) never needs one, and torch's first optimizer imports torch._dynamo:
        about 2 s of CPU on the first page after a cold start (python -X importtime)."""
        if self._optimizer is None:
            self._optimizer = self._make_optimizer(self.config)
        return self._optimizer

    def _make_optimizer(self, config: TrainConfig):
        # two groups, body then class weights, so the weights can learn at their own pace
        body = [p for p in self.model.parameters() if p is not self.model.weight]
        groups = [{"params": body}, {"params": [self.model.weight]}]
        if config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, weight_decay=5e-4)
        return torch.optim.Adam(groups, lr=config.lr)

    def known(self, images: torch.Tensor, labels: torch.Tensor):
        """The images and labels of the classes this run trains on (all in a closed set)."""
        if self.config.held_out_classes == 0:
            return images, labels
        keep = labels < self.known_classes
        return images[keep], labels[keep]

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train_labels) / self.config.batch_size)

    @property
    def finished(self) -> bool:
        return self.step >= self.config.epochs * self.steps_per_epoch

    def reconfigure(self, config: TrainConfig) -> None:
        """Loss, parameters and learning rate change at the next step; the model stays."""
        if any(getattr(config, name) != getattr(self.config, name)
               for name in ("dim", "device", "held_out_classes", "label_noise", "degrade")) \
                or subcenters(config) != subcenters(self.config):
            raise ValueError("dim, device, held-out classes, label noise, degraded digits and "
                             "sub-centres are fixed for a run: reset to change them")
        if config.optimizer != self.config.optimizer:
            self._optimizer = None  # the next step makes the new kind
            self._undo = None  # saved for the old optimizer: its state would not fit
        if config.loss != self.config.loss:  # another loss's running values mean nothing here
            self.loss_state = initial_state(config.loss, self.known_classes)
        self.config = config

    def learning_rate(self) -> float:
        """Cosine decay over the planned epochs; a live run that goes on keeps the floor."""
        planned = max(1, self.config.epochs * self.steps_per_epoch)
        progress = min(1.0, self.step / planned)
        floor = self.config.lr * self.config.lr_floor
        return floor + (self.config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def _set_lr(self):
        body, weights = self.optimizer.param_groups
        body["lr"] = self.learning_rate()
        weights["lr"] = self.learning_rate() * self.config.weight_lr_scale

    def _next_batch(self):
        if self._cursor >= len(self._order):
            self.epoch += 1
            self._cursor = 0
            self._order = torch.randperm(len(self.train_labels), generator=self.order_generator)
        index = self._order[self._cursor:self._cursor + self.config.batch_size]
        self._cursor += len(index)
        images = random_shift(self.train_images[index], self.config.shift, self.order_generator)
        images = to_input(images).to(self.device, non_blocking=True)
        return images, self.train_labels[index].to(self.device, non_blocking=True)

    def _bias(self):
        """Only softmax has a bias; a run switched to another loss keeps it unused."""
        return self.model.bias if self.config.loss == "softmax" else None

    def train_step(self) -> tuple[float, float, int]:
        """One batch. Returns (loss, accuracy, batch size). When the loss or its gradient is
        not finite or has exploded (likely the previous update's doing), or this update
        breaks the weights, the loss is nan, the run goes back to its last good state and
        self.divergence says what happened."""
        self.model.train()
        images, labels = self._next_batch()
        params = params_in_force(self.config, self.step)
        before = self._saved_state()  # batch-norm statistics move even in the forward pass
        features = self.model(images)
        bias = self._bias()
        state = next_state(self.config.loss, self.loss_state, features, self.model.weight, labels,
                           params)
        logits = margin_logits(self.config.loss, features, self.model.weight, labels, bias,
                               generator=margin_generator(self.config.seed, self.step),
                               state=state, **params)
        loss = torch.nn.functional.cross_entropy(logits, labels) \
            + norm_penalty(self.config.loss, features, **params)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
        if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
            return self._diverged(self._undo or before, "nan", len(labels))
        if loss.item() > EXPLODED_LOSS:
            return self._diverged(self._undo or before, "exploded", len(labels))
        self._undo = before  # these weights passed; if the next step finds them broken, go here
        norm_before = _norm(self.model.parameters())
        self._set_lr()
        self.optimizer.step()
        self.step, self.loss_state = self.step + 1, state
        norm_after = _norm(self.model.parameters())
        if not torch.isfinite(norm_after) or norm_after > EXPLODED_GROWTH * norm_before:
            return self._diverged(before, "weights", len(labels))
        self.divergence = None
        accuracy = (predict_logits(self.config.loss, features.detach(), self.model.weight.detach(),
                                   None if bias is None else bias.detach()).argmax(1) == labels)
        return loss.item(), accuracy.float().mean().item(), len(labels)

    def _saved_state(self) -> dict:
        """Copies of what a step changes: weights, batch-norm statistics, optimizer state (about
        1 ms for this network, a few percent of a step)."""
        return {"model": {name: value.clone() for name, value in self.model.state_dict().items()},
                "optimizer": {param: {name: value.clone() if torch.is_tensor(value) else value
                                      for name, value in state.items()}
                              for param, state in self.optimizer.state.items()},
                "step": self.step, "loss_state": self.loss_state}

    def _diverged(self, saved: dict, cause: str, size: int) -> tuple[float, float, int]:
        failed_step = self.step
        self.optimizer.zero_grad(set_to_none=True)
        self.model.load_state_dict(saved["model"])
        self.optimizer.state.clear()
        self.optimizer.state.update(saved["optimizer"])  # no step uses these copies again
        self.step, self.loss_state, self._undo = saved["step"], saved["loss_state"], None
        self.divergence = Message("messages.train.diverged", {
            "step": failed_step, "kept": self.step,
            "cause": Message(f"messages.train.cause_{cause}", {"limit": EXPLODED_LOSS})})
        return float("nan"), float("nan"), size

    @torch.no_grad()
    def evaluate(self, images=None, labels=None, batch_size: int = 250,
                 kinds: torch.Tensor | None = None) -> Evaluation:
        """Closed-set numbers on the digits of the classes trained on; in an open set, also
        verification on the held-out classes' digits among these images. kinds: which of the
        images are degraded (lossviz.degrade), to compare their feature norms."""
        if images is None:
            images, labels, kinds = self.eval_images, self.eval_labels, self.test_kinds
        kinds = None if kinds is None else kinds[:len(images)]
        self.model.eval()
        features = torch.cat([self.model(to_input(images[i:i + batch_size]).to(self.device))
                              for i in range(0, len(images), batch_size)]).float().cpu()
        verification = None
        if self.config.held_out_classes:
            if (labels >= self.known_classes).any():  # not among the training digits
                verification = open_set_verification(features.numpy(), labels.numpy(),
                                                     self.known_classes)
            if kinds is not None:
                kinds = kinds[labels < self.known_classes]
            features, labels = self.known(features, labels)
        weight = self.model.weight.detach().float().cpu()
        class_weights, off_dominant = self.class_weights(weight)
        bias = self._bias()
        bias = None if bias is None else bias.detach().float().cpu()
        params = params_in_force(self.config, self.step)
        logits = margin_logits(self.config.loss, features, weight, labels, bias,
                               state=self.loss_state, **params)
        loss = (torch.nn.functional.cross_entropy(logits, labels)
                + norm_penalty(self.config.loss, features, **params)).item()
        predictions = predict_logits(self.config.loss, features, weight, bias).argmax(1)
        feats, w = features.numpy(), class_weights.numpy()
        own, min_between = angle_metrics(feats, labels.numpy(), w)
        return Evaluation(loss, (predictions == labels).float().mean().item(), feats,
                          labels.numpy(), predictions.numpy(), w, own, min_between, verification,
                          weight.numpy() if weight.dim() == 3 else None, off_dominant,
                          quality_norms(features, kinds))

    # The training digits whose sub-centre choices elect each class's dominant sub-centre:
    # enough for a clear majority, few enough that an evaluation stays cheap
    VOTERS = 1000

    @torch.no_grad()
    def training_features(self, count: int = VOTERS) -> torch.Tensor:
        """Features of the first `count` training digits (unshifted), in evaluation mode."""
        self.model.eval()
        return self.model(to_input(self.train_images[:count]).to(self.device)).float().cpu()

    def class_weights(self, weight: torch.Tensor | None = None):
        """((C, D), off_dominant): one weight per class, the class weights or, with sub-centres,
        each class's dominant one, elected by the first training digits with the labels
        training sees; and how many of those voters picked another sub-centre of their class,
        among true and among flipped labels (None without sub-centres)."""
        weight = self.model.weight.detach().float().cpu() if weight is None else weight
        if weight.dim() == 2:
            return weight, None
        labels, flipped = self.train_labels[:self.VOTERS], self.flipped[:self.VOTERS]
        dominant, picks = dominant_subcenters(self.training_features(), labels, weight)
        elsewhere = (picks != dominant[labels]).float()
        shares = tuple(float(elsewhere[mask].mean()) if mask.any() else float("nan")
                       for mask in (~flipped, flipped))
        return weight[torch.arange(len(weight)), dominant], shares

    def evaluate_full_test(self, dataset: Dataset) -> Evaluation:
        """Every test digit, degraded where this run degrades them (the data set is the one
        the run was made with)."""
        return self.evaluate(self.test_images, self.test_labels, kinds=self.test_kinds)

    def state_bytes(self) -> bytes:
        """Everything needed to carry on exactly here, optimizer and data order included: how a
        run moves between the page's process and the training process."""
        state = {"config": dataclasses.asdict(self.config), "model": self.model.state_dict(),
                 # None before the first step: an optimizer that never stepped holds nothing
                 "optimizer": self._optimizer and self._optimizer.state_dict(),
                 "step": self.step, "epoch": self.epoch,
                 "cursor": self._cursor, "order": self._order, "loss_state": self.loss_state,
                 "generator": self.order_generator.get_state()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    def _match_bias(self, has_bias: bool):
        """A run switched live to or from softmax keeps the model it had, with or without the
        bias that only softmax uses: give this one the same parameters before loading."""
        if has_bias == (self.model.bias is not None):
            return
        classes = self.model.weight.shape[0]
        self.model.bias = torch.nn.Parameter(torch.zeros(classes, device=self.device)) \
            if has_bias else None
        self._optimizer = None  # the next step makes one over the new parameters

    @classmethod
    def from_state_bytes(cls, data: bytes, dataset: Dataset) -> "Run":
        """The Run that state_bytes() saved (bytes this app wrote, not a user's file)."""
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        run = cls(TrainConfig(**state["config"]), dataset)
        run._match_bias("bias" in state["model"])
        run.model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            run.optimizer.load_state_dict(state["optimizer"])
        run.step, run.epoch, run._cursor = state["step"], state["epoch"], state["cursor"]
        run._order, run.loss_state = state["order"], state["loss_state"]
        run.order_generator.set_state(state["generator"])
        return run


def quality_norms(features: torch.Tensor, kinds: torch.Tensor | None):
    """(mean norm of the clean features, of the degraded ones), or None unless both exist."""
    if kinds is None:
        return None
    degraded = kinds >= 0
    if degraded.all() or not degraded.any():
        return None
    norms = features.norm(dim=1)
    return float(norms[~degraded].mean()), float(norms[degraded].mean())


def train_epochs(run: Run, dataset: Dataset, progress=None, on_epoch=None) -> dict:
    """Train run.config.epochs epochs; the final metrics as plain numbers. After each epoch,
    on_epoch(run, epoch, train_loss, train_accuracy) may record history; its time is not
    counted in samples/s."""
    return finish(train_stepwise(run, dataset, progress, on_epoch))


def finish(steps):
    """Run a stepwise generator to its end; what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def train_stepwise(run: Run, dataset: Dataset, progress=None, on_epoch=None):
    """train_epochs one step at a time: a generator that yields after every step and returns
    the final metrics, so that a training process can interleave it with other runs."""
    total = run.config.epochs * run.steps_per_epoch
    losses, accuracies, samples, nan_steps, training_seconds = [], [], 0, 0, 0.0
    while run.step < total and nan_steps <= 10:
        start = time.perf_counter()
        loss, accuracy, size = run.train_step()
        training_seconds += time.perf_counter() - start
        if math.isnan(loss):
            nan_steps += 1
            continue
        samples += size
        losses.append(loss)
        accuracies.append(accuracy)
        yield
        if run.step % run.steps_per_epoch == 0:
            epoch = run.step // run.steps_per_epoch
            recent = slice(-run.steps_per_epoch, None)
            epoch_loss, epoch_accuracy = np.mean(losses[recent]), np.mean(accuracies[recent])
            if progress:
                progress(epoch, run.config.epochs, float(epoch_loss))
            if on_epoch:
                on_epoch(run, epoch, float(epoch_loss), float(epoch_accuracy))
    return final_metrics(run, dataset, nan_steps > 0,
                         samples / training_seconds if training_seconds > 0 else 0.0)


def final_metrics(run: Run, dataset: Dataset, had_nan: bool, samples_per_s: float) -> dict:
    test = run.evaluate_full_test(dataset)
    train = run.evaluate(*run.known(dataset.tensors["train_images"],
                                    dataset.tensors["train_labels"]))
    return {"loss": run.config.loss, "dim": run.config.dim,
            "params": params_in_force(run.config, run.step), "loss_state": dict(run.loss_state),
            "epochs": run.step / run.steps_per_epoch, "steps": run.step, "nan": had_nan,
            "train_accuracy": train.accuracy, "train_loss": train.loss,
            "test_accuracy": test.accuracy, "test_loss": test.loss,
            "mean_own_angle_deg": test.mean_own_angle,
            "min_weight_angle_deg": test.min_weight_angle,
            "samples_per_s": samples_per_s, "device": str(run.device),
            "held_out_classes": run.config.held_out_classes, "label_noise": run.config.label_noise,
            "degrade": run.config.degrade,
            **dict(zip(("norm_clean", "norm_degraded"), test.quality_norms or ())),
            **(test.verification.row() if test.verification else {}),
            # sub-centres: how many of the voting training digits sit at another sub-centre
            **{name: share for name, share in zip(("off_dominant_true", "off_dominant_flipped"),
                                                  test.off_dominant or ()) if not math.isnan(share)}}
