"""A run saved as a file and read back, trusting nothing in the file: tensors only
(torch.load with weights_only=True), a size limit, and the configuration and every shape
checked before the current state is touched."""
from __future__ import annotations

import dataclasses
import io
import math
import numbers
from pathlib import Path

import torch

from lossviz.data import Dataset
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES, STATE_RANGES
from lossviz.train import Run, TrainConfig, build_model, trained_classes

FORMAT = "lossviz-checkpoint/1"
MAX_BYTES = 16 * 2**20  # the model is ~0.3 MB; anything this big is not ours


class CheckpointError(LossvizError):
    """A file that is not a usable lossviz checkpoint; the message says why."""


def _portable_state(run: Run) -> dict:
    """The weights as a fresh Run of this config would hold them: a run switched live to or
    from softmax gains or drops the bias that only softmax uses."""
    state = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    if run.config.loss != "softmax":
        state.pop("bias", None)
    elif "bias" not in state:
        state["bias"] = torch.zeros(run.model.weight.shape[0])
    return state


def checkpoint_bytes(run: Run) -> bytes:
    payload = {"format": FORMAT, "config": dataclasses.asdict(run.config), "step": run.step,
               "state_dict": _portable_state(run), "loss_state": dict(run.loss_state)}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(run: Run, path: Path) -> None:
    Path(path).write_bytes(checkpoint_bytes(run))


def _read_payload(data: bytes) -> dict:
    if len(data) > MAX_BYTES:
        raise CheckpointError("messages.checkpoint.too_big", size=len(data) / 2**20,
                              limit=MAX_BYTES // 2**20)
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:  # pickle, zip and torch each raise their own kinds
        raise CheckpointError("messages.checkpoint.unreadable", kind=type(err).__name__) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("messages.checkpoint.no_marker")
    return payload


def _config_from(raw, device: str) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if not isinstance(raw, dict) or set(raw) - known:
        extra = sorted(set(raw) - known) if isinstance(raw, dict) else raw
        raise CheckpointError("messages.checkpoint.unknown_settings", names=extra)
    try:
        return TrainConfig(**{**raw, "device": device})
    except LossvizError as err:
        raise CheckpointError("messages.checkpoint.bad_config", reason=err.message) from None
    except (TypeError, ValueError) as err:  # resolve_params' messages (English only)
        raise CheckpointError("messages.checkpoint.bad_config", reason=str(err)) from None


def _checked_state(state, config: TrainConfig, num_classes: int) -> dict:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("messages.checkpoint.not_tensors")
    reference = build_model(config, num_classes).state_dict()
    if set(state) != set(reference):
        raise CheckpointError("messages.checkpoint.other_network")
    for name, tensor in state.items():
        if tensor.shape != reference[name].shape:
            raise CheckpointError("messages.checkpoint.shape", name=name,
                                  shape=tuple(tensor.shape), expected=tuple(reference[name].shape),
                                  classes=num_classes, dim=config.dim)
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError("messages.checkpoint.not_finite", name=name)
    return state


def _checked_loss_state(raw, config: TrainConfig) -> dict | None:
    """CurricularFace's t, AdaCos's s: the names its loss carries, each a finite number in its
    range. None where the file has none (written before a loss had running values): the run
    starts them afresh."""
    if raw is None:
        return None
    names = LOSSES[config.loss].state
    if not isinstance(raw, dict) or set(raw) != set(names) or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            and STATE_RANGES[k][0] <= v <= STATE_RANGES[k][1] for k, v in raw.items()):
        raise CheckpointError("state.checkpoint.bad", loss=config.loss,
                              names=", ".join(names) or "-", value=repr(raw)[:100])
    return {k: float(v) for k, v in raw.items()}


# far beyond any real run, and small enough that step-dependent schedules stay finite floats
MAX_STEP = 10**9


def load_checkpoint(data: bytes, dataset: Dataset, device: str = "auto") -> Run:
    """A new Run restored from the file's bytes, on this machine's device. The optimizer starts
    afresh: its state is not saved. Whatever goes wrong becomes a CheckpointError that says
    why; the caller's current run is never touched."""
    try:
        return _restored_run(data, dataset, device)
    except CheckpointError:
        raise
    except Exception as err:  # torch, the model or the device: the reason, not a traceback
        raise CheckpointError("messages.checkpoint.unusable",
                              reason=f"{type(err).__name__}: {err}"[:300]) from None


def _restored_run(data: bytes, dataset: Dataset, device: str) -> Run:
    payload = _read_payload(data)
    config = _config_from(payload.get("config"), device)
    state = _checked_state(payload.get("state_dict"), config, trained_classes(config, dataset))
    loss_state = _checked_loss_state(payload.get("loss_state"), config)
    step = payload.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        raise CheckpointError("messages.checkpoint.step", limit=MAX_STEP)
    run = Run(config, dataset)
    run.model.load_state_dict(state)
    run.step = step
    if loss_state is not None:
        run.loss_state = loss_state
    return run
