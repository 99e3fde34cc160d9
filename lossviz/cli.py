"""python -m lossviz: train headless, or fetch full MNIST. Results on stdout, progress on stderr."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lossviz.data import SOURCES, data_dir, load_source
from lossviz.losses import LOSSES
from lossviz.train import DEVICES, OPTIMIZERS, Run, preset_config, train_epochs

LOSS_PARAMS = ("s", "m", "m1", "m2", "m3")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and a non-zero exit, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_train(commands):
    train = commands.add_parser("train", help="train one run and print its final metrics")
    train.add_argument("--loss", choices=list(LOSSES), default="softmax")
    train.add_argument("--dim", type=int, choices=(2, 3), default=2, help="feature dimension")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--seed", type=int, default=0)
    for name in LOSS_PARAMS:
        train.add_argument(f"--{name}", type=float, help=f"loss parameter {name} (default: preset)")
    train.add_argument("--lr", type=float, help="learning rate (default: preset)")
    train.add_argument("--batch-size", type=int, help="batch size (default: preset)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    train.add_argument("--warmup-steps", type=int, help="margin warm-up steps (default: 0)")
    train.add_argument("--device", choices=DEVICES, default="auto")
    train.add_argument("--data", choices=SOURCES, default="bundled", help="data set")
    train.add_argument("--data-dir", type=Path, default=data_dir(), help="folder of IDX files")
    train.add_argument("--json", action="store_true", help="print the metrics as one JSON object")


def _add_download(commands):
    download = commands.add_parser("download-mnist", help="fetch full MNIST (needs the internet)")
    download.add_argument("--dir", type=Path, required=True, help="folder to write the IDX files to")
    download.add_argument("--base-url", help="mirror to fetch from (default: the usual mirrors)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lossviz", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(commands)
    _add_download(commands)
    return parser


def _config_from(args):
    params = {name: getattr(args, name) for name in LOSS_PARAMS if getattr(args, name) is not None}
    spec_params = {p.name for p in LOSSES[args.loss].params}
    for name in params:
        if name not in spec_params:
            raise ValueError(f"--{name} does not apply to {args.loss}")
    overrides = {"lr": args.lr, "batch_size": args.batch_size, "optimizer": args.optimizer,
                 "warmup_steps": args.warmup_steps}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return preset_config(args.loss, args.dim, params=params, epochs=args.epochs, seed=args.seed,
                         device=args.device, **overrides)


def _train(args) -> int:
    config = _config_from(args)
    dataset, warning = load_source(args.data, args.data_dir)
    if warning:
        print(warning, file=sys.stderr)
    run = Run(config, dataset)

    def progress(epoch, epochs, loss):
        print(f"epoch {epoch}/{epochs} loss {loss:.4f}", file=sys.stderr, flush=True)

    metrics = train_epochs(run, dataset, progress)
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name}: {value}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        from lossviz.download import download_mnist
        download_mnist(args.dir, args.base_url, log=lambda line: print(line, file=sys.stderr))
        return 0
    except (ValueError, OSError) as err:
        print(f"python -m lossviz: error: {err}", file=sys.stderr)
        return 2
