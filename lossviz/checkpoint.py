"""A run saved as a file and read back, trusting nothing in the file: tensors only
(torch.load with weights_only=True), a size limit, and the configuration and every shape
checked before the current state is touched."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from lossviz.data import Dataset
from lossviz.model import FeatureNet
from lossviz.train import Run, TrainConfig

FORMAT = "lossviz-checkpoint/1"
MAX_BYTES = 16 * 2**20  # the model is ~0.3 MB; anything this big is not ours


class CheckpointError(ValueError):
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
               "state_dict": _portable_state(run)}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(run: Run, path: Path) -> None:
    Path(path).write_bytes(checkpoint_bytes(run))


def _read_payload(data: bytes) -> dict:
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"the file is {len(data) / 2**20:.1f} MB; a lossviz checkpoint "
                              f"is under {MAX_BYTES // 2**20} MB")
    try:
        payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as err:  # pickle, zip and torch each raise their own kinds
        raise CheckpointError(f"not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("not a lossviz checkpoint (no lossviz format marker)")
    return payload


def _config_from(raw, device: str) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if not isinstance(raw, dict) or set(raw) - known:
        extra = sorted(set(raw) - known) if isinstance(raw, dict) else raw
        raise CheckpointError(f"its configuration has unknown settings: {extra}")
    try:
        return TrainConfig(**{**raw, "device": device})
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"its configuration is not valid: {err}") from None


def _checked_state(state, config: TrainConfig, num_classes: int) -> dict:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("its weights are not a table of tensors")
    reference = FeatureNet(config.dim, num_classes, bias=config.loss == "softmax").state_dict()
    if set(state) != set(reference):
        raise CheckpointError("its weights belong to a different network")
    for name, tensor in state.items():
        if tensor.shape != reference[name].shape:
            raise CheckpointError(f"{name} has shape {tuple(tensor.shape)}, expected "
                                  f"{tuple(reference[name].shape)} ({num_classes} classes, "
                                  f"{config.dim}D)")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{name} holds NaN or infinite values")
    return state


def load_checkpoint(data: bytes, dataset: Dataset, device: str = "auto") -> Run:
    """A new Run restored from the file's bytes, on this machine's device. The optimizer starts
    afresh: its state is not saved."""
    payload = _read_payload(data)
    config = _config_from(payload.get("config"), device)
    state = _checked_state(payload.get("state_dict"), config, len(dataset.class_names))
    step = payload.get("step")
    if not isinstance(step, int) or step < 0:
        raise CheckpointError("its step count is missing or negative")
    run = Run(config, dataset)
    run.model.load_state_dict(state)
    run.step = step
    return run
