"""python -m lossviz: train headless, bake ready runs, or fetch full MNIST. Results on stdout, progress on stderr."""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from lossviz.bake import FRAMES, bake_all
from lossviz.compare import configs_from_spec, confounds, train_one
from lossviz.data import SOURCES, data_dir, load_bundled, load_source
from lossviz.evidence import PULL_LOSSES, difficulty_study, pull_study
from lossviz.export import EpochHistory, comparison_images, write_comparison, write_run
from lossviz.losses import LOSSES
from lossviz.openset import (family_configs, open_set, over_seeds, record, summarize,
                             summary_line)
from lossviz.smap import EPOCHS, MAP_LOSSES, SIZE, default_grid, map_from_results, save_map
from lossviz.train import (DEVICES, OPEN_SET_HELD_OUT, OPTIMIZERS, Run, TrainConfig,
                           preset_config, train_epochs)

# every loss parameter a run may set (lambda is annealed: --lambda-start and the floor set it)
LOSS_PARAMS = {p.name: p for spec in LOSSES.values() for p in spec.params if p.name != "lam"}


def _param_help(p) -> str:
    if p.choices:  # a variant travels as its index, like every other parameter
        return "variant: " + ", ".join(f"{i} = {name}" for i, name in enumerate(p.choices))
    return f"loss parameter {p.name} (default: preset)"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and a non-zero exit, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_train(commands):
    train = commands.add_parser("train", help="train one run and print its final metrics")
    train.add_argument("--loss", choices=list(LOSSES), default="softmax")
    train.add_argument("--dim", type=int, choices=(2, 3), default=2, help="feature dimension")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--seed", type=int, default=0)
    for name, p in LOSS_PARAMS.items():
        train.add_argument(f"--{name}", type=float, help=_param_help(p))
    train.add_argument("--lambda-start", type=float, help="SphereFace, L-Softmax: lambda anneals "
                       "from this (default 1000); the floor's value (5) means no annealing")
    train.add_argument("--label-noise", type=float, metavar="FRACTION",
                       help="share of training labels flipped at random, seeded (default 0)")
    train.add_argument("--degrade", type=float, metavar="FRACTION",
                       help="share of training and test digits blurred, noisy or partly erased, "
                            "seeded (default 0)")
    train.add_argument("--lr", type=float, help="learning rate (default: preset)")
    train.add_argument("--batch-size", type=int, help="batch size (default: preset)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam")
    train.add_argument("--warmup-steps", type=int, help="margin warm-up steps (default: 0)")
    train.add_argument("--device", choices=DEVICES, default="auto")
    _add_open_set(train)
    train.add_argument("--data", choices=SOURCES, default="bundled", help="data set")
    train.add_argument("--data-dir", type=Path, default=data_dir(), help="folder of IDX files")
    train.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    train.add_argument("--out", type=Path, help="write checkpoint, metrics, history and figures "
                                                "(PNG and SVG) to this folder")
    train.add_argument("--gif", action="store_true",
                       help="with --out: also features.gif, the features after every epoch")


def _add_open_set(command):
    command.add_argument(
        "--open-set", action="store_true",
        help=f"train without the last {OPEN_SET_HELD_OUT} classes (digits 0-7) and report "
             "verification of pairs on the held-out and the known classes: TAR at FAR 1%% and "
             "0.1%%, EER")
    command.add_argument("--held-out", type=int, metavar="N",
                         help=f"with --open-set: hold out the last N classes "
                              f"(default {OPEN_SET_HELD_OUT})")


def _held_out(args) -> int:
    if args.held_out is not None and not args.open_set:
        raise ValueError("--held-out needs --open-set")
    if not args.open_set:
        return 0
    return OPEN_SET_HELD_OUT if args.held_out is None else args.held_out


def _add_compare(commands):
    compare = commands.add_parser(
        "compare", help="train several runs with the same seed, data order and initial "
                        "weights, and write a comparison")
    what = compare.add_mutually_exclusive_group(required=True)
    what.add_argument("--losses", help="comma-separated losses, each with its preset")
    what.add_argument("--vary", metavar="PARAM=V1,V2,...",
                      help="one loss (--loss) at several values of one parameter, e.g. m=1,2,3,4")
    what.add_argument("--spec", type=Path, help='a JSON file: {"dim": 2, "epochs": 10, "runs": '
                                                '[{"loss": "arcface", "params": {"m": 0.3}}, ...]}')
    compare.add_argument("--loss", choices=list(LOSSES), help="the loss that --vary varies")
    compare.add_argument("--dim", type=int, choices=(2, 3), default=2)
    compare.add_argument("--epochs", type=int, default=10)
    seeds = compare.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=0)
    seeds.add_argument("--seeds", help="comma-separated seeds: every run once per seed, and "
                                       "summary.json with the mean and spread over them")
    compare.add_argument("--device", choices=DEVICES, default="auto")
    _add_open_set(compare)
    compare.add_argument("--data", choices=SOURCES, default="bundled")
    compare.add_argument("--data-dir", type=Path, default=data_dir())
    compare.add_argument("--out", type=Path, required=True, help="folder for every run's files "
                                                                  "and comparison.csv/json")


def _add_download(commands):
    download = commands.add_parser("download-mnist", help="fetch full MNIST (needs the internet)")
    download.add_argument("--dir", type=Path, required=True, help="folder to write the IDX files to")
    download.add_argument("--base-url", help="mirror to fetch from (default: the usual mirrors)")


def _add_difficulty(commands):
    difficulty = commands.add_parser(
        "difficulty", help="the takeaway-2 evidence: SphereFace, CosFace and ArcFace with "
                           "margins of matched size, steps to each test accuracy, per seed")
    difficulty.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    difficulty.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    difficulty.add_argument("--dims", default="3,2", help="feature dimensions to study")
    difficulty.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    difficulty.add_argument("--eval-every", type=int, default=8,
                            help="steps between two evaluations of the test subset")
    difficulty.add_argument("--eval-points", type=int, default=1000,
                            help="test digits evaluated at each point (the first N)")
    difficulty.add_argument("--thresholds", default="0.8,0.9", help="test accuracies to time")
    difficulty.add_argument("--device", choices=DEVICES, default="auto")


def _add_openset(commands):
    study = commands.add_parser(
        "openset", help="the open-set evidence: every loss's preset trained without the last "
                        "classes, over several seeds; closed-set accuracy, TAR at FAR 1%% and "
                        "0.1%% and EER on held-out and known classes, mean and spread (JSON)")
    study.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    study.add_argument("--losses", default=",".join(LOSSES), help="comma-separated losses")
    study.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    study.add_argument("--dim", type=int, choices=(2, 3), default=3)
    study.add_argument("--epochs", type=int, default=10)
    study.add_argument("--held-out", type=int, default=OPEN_SET_HELD_OUT, metavar="N",
                       help="classes held out (the last N)")
    study.add_argument("--device", choices=DEVICES, default="auto")
    study.add_argument("--jobs", type=int, default=1,
                       help="runs trained at a time, each in its own process on one thread")


def _add_pull(commands):
    pull = commands.add_parser(
        "pull", help="the takeaway-1 evidence: Softmax against the margin losses' presets, "
                     "same seeds, the angle of features to their own weight and the smallest "
                     "angle between weights over training")
    pull.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    pull.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    pull.add_argument("--dim", type=int, choices=(2, 3), default=3)
    pull.add_argument("--epochs", type=int, default=10,
                      help="10: the features have gathered near their weights (2 epochs left "
                           "the order between the losses still changing with the seed)")
    pull.add_argument("--losses", default=",".join(PULL_LOSSES),
                      help="softmax first, then the margin losses to read against it")
    pull.add_argument("--eval-every", type=int, default=8,
                      help="steps between two evaluations of the test subset")
    pull.add_argument("--eval-points", type=int, default=500,
                      help="test digits evaluated at each point (the first N)")
    pull.add_argument("--device", choices=DEVICES, default="auto")


def _add_bake(commands):
    bake = commands.add_parser(
        "bake", help="train every loss preset and record its evolution as a ready run (one "
                     ".npz per loss and dimension) for the app to replay at once")
    bake.add_argument("--out", type=Path, required=True, help="folder, e.g. assets/runs")
    bake.add_argument("--losses", help="comma-separated losses (default: every loss)")
    bake.add_argument("--dims", default="2,3", help="feature dimensions")
    bake.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    bake.add_argument("--seed", type=int, default=0)
    bake.add_argument("--frames", type=int, default=FRAMES, help="frames per run (at least 2)")
    bake.add_argument("--threads", type=int,
                      help="torch threads (default: torch's choice); the same count and seed "
                           "give the same files")


def _add_map(commands):
    smap = commands.add_parser(
        "map", help="the s-m map: a grid of short runs over two parameters of one loss, each "
                    "cell its test accuracy, and with --open-set also the held-out classes' "
                    "TAR at FAR 1%% and EER (JSON, as the page's ready maps in assets/maps)")
    smap.add_argument("--loss", choices=MAP_LOSSES, required=True)
    smap.add_argument("--dim", type=int, choices=(2, 3), default=2)
    smap.add_argument("--across", help="the parameter across (default: the first margin)")
    smap.add_argument("--up", help="the parameter up the side (default: the scale)")
    smap.add_argument("--size", type=int, default=SIZE,
                      help="values per parameter, over the page's default ranges")
    smap.add_argument("--epochs", type=int, default=EPOCHS)
    smap.add_argument("--seed", type=int, default=0)
    smap.add_argument("--jobs", type=int, default=1,
                      help="runs trained at a time, each in its own process on one thread")
    _add_open_set(smap)
    smap.add_argument("--out", type=Path, required=True, help="the JSON file to write")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lossviz", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(commands)
    _add_compare(commands)
    _add_download(commands)
    _add_difficulty(commands)
    _add_openset(commands)
    _add_pull(commands)
    _add_bake(commands)
    _add_map(commands)
    return parser


def _config_from(args):
    params = {name: getattr(args, name) for name in LOSS_PARAMS if getattr(args, name) is not None}
    spec_params = {p.name for p in LOSSES[args.loss].params}
    for name in params:
        if name not in spec_params:
            raise ValueError(f"--{name} does not apply to {args.loss}")
    overrides = {"lr": args.lr, "batch_size": args.batch_size, "optimizer": args.optimizer,
                 "warmup_steps": args.warmup_steps, "lambda_base": args.lambda_start,
                 "label_noise": args.label_noise, "degrade": args.degrade}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return preset_config(args.loss, args.dim, params=params, epochs=args.epochs, seed=args.seed,
                         device=args.device, held_out_classes=_held_out(args), **overrides)


def _load_data(args):
    dataset, warnings = load_source(args.data, args.data_dir)
    for warning in warnings:
        print(warning, file=sys.stderr)
    return dataset


def _train(args) -> int:
    config = _config_from(args)
    dataset = _load_data(args)
    run = Run(config, dataset)
    if args.gif and not args.out:
        raise ValueError("--gif needs --out")
    history = EpochHistory(keep_frames=args.gif) if args.out else None
    metrics = train_epochs(run, dataset, _progress(""), history)
    if args.out:
        write_run(args.out, run, metrics, history, dataset.class_names)
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name}: {value}")
    return 0


def _progress(prefix: str, width: int = 20):
    """A text progress bar on stderr, one line per epoch (readable in logs and terminals)."""
    def report(epoch, epochs, loss):
        filled = round(width * epoch / max(1, epochs))
        bar = "#" * filled + "-" * (width - filled)
        print(f"{prefix}[{bar}] epoch {epoch}/{epochs} loss {loss:.4f}", file=sys.stderr,
              flush=True)
    return report


def _compare_configs(args) -> dict:
    """label -> config for each run of the comparison."""
    if args.spec:
        try:
            spec = json.loads(args.spec.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{args.spec}: not JSON ({err})") from None
        configs = configs_from_spec(spec, args.device)
        if (warning := confounds(configs)) is not None:
            print(warning.render("en"), file=sys.stderr)
        return configs
    if args.losses:
        names = _loss_names(args.losses, at_least=2)
        return {name: preset_config(name, args.dim, epochs=args.epochs, seed=args.seed,
                                    device=args.device) for name in names}
    if args.loss is None:
        raise ValueError("--vary needs --loss")
    name, _, values = args.vary.partition("=")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--vary {args.vary}: values must be numbers") from None
    if not numbers or name not in {p.name for p in LOSSES[args.loss].params}:
        raise ValueError(f"--vary needs PARAM=V1,V2,... with a parameter of {args.loss}")
    labels = [f"{args.loss}-{name}={v:g}" for v in numbers]
    _refuse_repeats(f"--vary {args.vary}", labels)
    return {label: preset_config(args.loss, args.dim, params={name: v}, epochs=args.epochs,
                                 seed=args.seed, device=args.device)
            for label, v in zip(labels, numbers, strict=True)}


def _loss_names(text: str, at_least: int = 1) -> list[str]:
    """The names in --losses (comma-separated), each a registered loss and none twice."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOSSES]
    if unknown or len(names) < at_least:
        needs = "two or more" if at_least > 1 else "one or more"
        raise ValueError(f"--losses needs {needs} of {', '.join(LOSSES)}"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    _refuse_repeats("--losses", names)
    return names


def _refuse_repeats(flag: str, labels: list[str]) -> None:
    """Runs are kept by label: a repeated one would silently merge two runs into one."""
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"{flag}: more than one run would be {', '.join(repeated)}; give each "
                         "run its own value")


def _compare(args) -> int:
    configs = open_set(_compare_configs(args), _held_out(args))
    seeds = _numbers(args.seeds, int, "seeds") if args.seeds else [args.seed]
    _refuse_repeats("--seeds", [str(seed) for seed in seeds])
    runs = over_seeds(configs, seeds)
    dataset = _load_data(args)
    results = {}
    for index, ((label, seed), config) in enumerate(runs.items(), start=1):
        folder = args.out / label / f"seed-{seed}" if args.seeds else args.out / label

        def write(run, metrics, history, folder=folder):
            write_run(folder, run, metrics, history, dataset.class_names)
        name = f"{label} seed {seed}" if args.seeds else label
        result = train_one(label, config, dataset, on_finish=write,
                           progress=_progress(f"[{index}/{len(runs)} {name}] "))
        results[label, seed] = dataclasses.replace(result, row={**result.row, "seed": seed})
    rows = [result.row for result in results.values()]
    write_comparison(args.out, rows)
    first_seed = [result for (_, seed), result in results.items() if seed == seeds[0]]
    for fmt in ("png", "svg"):
        images = comparison_images(first_seed, dataset.class_names, fmt)
        (args.out / f"comparison.{fmt}").write_bytes(images["features"])
        (args.out / f"accuracy.{fmt}").write_bytes(images["accuracy"])
    if args.seeds:
        settings = {"data": dataset.name, "dim": args.dim, "epochs": args.epochs,
                    "seeds": seeds, "held_out_classes": _held_out(args),
                    "torch_threads": torch.get_num_threads()}
        summary = summarize(results)
        (args.out / "summary.json").write_text(json.dumps(record(summary, settings), indent=1))
        print(json.dumps(summary))
    else:
        print(json.dumps(rows))
    return 0


def _numbers(text: str, kind, name: str) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--{name} {text}: write numbers separated by commas") from None
    if not values:
        raise ValueError(f"--{name} needs at least one value")
    return values


def _difficulty(args) -> int:
    thresholds = _numbers(args.thresholds, float, "thresholds")
    dims = _numbers(args.dims, int, "dims")
    if not all(0 < t <= 1 for t in thresholds) or not set(dims) <= {2, 3}:
        raise ValueError("thresholds are accuracies in (0, 1]; dims are 2 and/or 3")
    record = difficulty_study(load_bundled(), dims, _numbers(args.seeds, int, "seeds"),
                              args.epochs, args.eval_every, args.eval_points, thresholds,
                              args.device, lambda what: print(what, file=sys.stderr, flush=True))
    _write_record(args.out, record)
    return 0


def _train_all(runs: dict, dataset, jobs: int) -> dict:
    """(label, seed) -> RunResult; with jobs > 1, that many runs at a time in processes of one
    thread each (on a shared machine, several small processes get more of it than one)."""
    if jobs < 1:
        raise ValueError("--jobs must be at least 1")
    if jobs == 1:
        return {key: train_one(key[0], config, dataset, progress=_progress(
                    f"[{index}/{len(runs)} {key[0]} seed {key[1]}] "))
                for index, (key, config) in enumerate(runs.items(), start=1)}
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        futures = {key: pool.submit(train_one, key[0], config, dataset)
                   for key, config in runs.items()}
        results = {}
        for key, future in futures.items():
            results[key] = future.result()
            print(f"[{len(results)}/{len(runs)}] {key[0]} seed {key[1]} done", file=sys.stderr,
                  flush=True)
        return results


def _openset(args) -> int:
    losses = _loss_names(args.losses)
    seeds = _numbers(args.seeds, int, "seeds")
    runs = family_configs(losses, args.dim, args.epochs, seeds, args.held_out)
    runs = {key: dataclasses.replace(config, device=args.device) for key, config in runs.items()}
    dataset = load_bundled()
    results = _train_all(runs, dataset, args.jobs)
    settings = {"data": dataset.name, "dim": args.dim, "epochs": args.epochs, "seeds": seeds,
                "held_out_classes": args.held_out, "device": args.device,
                "torch_threads": 1 if args.jobs > 1 else torch.get_num_threads()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record(summarize(results), settings), ensure_ascii=False,
                                   indent=1))
    for entry in summarize(results):
        print(summary_line(entry))
    return 0


def _pull(args) -> int:
    losses = _loss_names(args.losses)
    record = pull_study(load_bundled(), args.dim, _numbers(args.seeds, int, "seeds"),
                        args.epochs, args.eval_every, args.eval_points, tuple(losses),
                        args.device, lambda what: print(what, file=sys.stderr, flush=True))
    _write_record(args.out, record)
    return 0


def _write_record(out: Path, record: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    print(record["finding"])


def _bake(args) -> int:
    losses = _loss_names(args.losses) if args.losses else list(LOSSES)
    dims = _numbers(args.dims, int, "dims")
    if not set(dims) <= {2, 3} or args.frames < 2 or args.epochs < 1:
        raise ValueError("--dims are 2 and/or 3, --frames at least 2, --epochs at least 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    paths = bake_all(args.out, load_bundled(), losses, dims, args.epochs, args.seed, args.frames,
                     log=lambda line: print(line, file=sys.stderr, flush=True),
                     progress_for=_progress)
    for path in paths:
        print(path)
    return 0


def _map(args) -> int:
    if (args.across is None) != (args.up is None):
        raise ValueError("--across and --up go together (or neither: the page's default axes)")
    params = (args.across, args.up) if args.across else None
    grid = default_grid(args.loss, args.dim, params, args.size, args.epochs, args.seed,
                        _held_out(args))
    dataset = load_bundled()
    start = time.perf_counter()
    results = _train_all({(label, grid.seed): config for label, config in grid.configs().items()},
                         dataset, args.jobs)
    seconds = time.perf_counter() - start
    amap = map_from_results(grid, list(results.values()), meta={
        "jobs": args.jobs, "torch_threads": 1 if args.jobs > 1 else torch.get_num_threads(),
        "seconds": round(seconds, 1)})
    save_map(args.out, amap, dataset.name)
    print(f"{args.out}: {len(results)} runs in {seconds:.0f} s; "
          + "; ".join(_best_line(amap, metric) for metric in grid.metrics if metric != "eer"))
    return 0


def _best_line(amap, metric: str) -> str:
    best = amap.best_cell(metric)
    return f"best by {metric} " + (f"{amap.grid.label(*best)} at {amap.metrics[metric][best]:.1%}"
                                   if best else "none (all diverged)")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "difficulty":
            return _difficulty(args)
        if args.command == "openset":
            return _openset(args)
        if args.command == "pull":
            return _pull(args)
        if args.command == "bake":
            return _bake(args)
        if args.command == "map":
            return _map(args)
        from lossviz.download import download_mnist
        download_mnist(args.dir, args.base_url, log=lambda line: print(line, file=sys.stderr))
        return 0
    except (ValueError, OSError) as err:
        print(f"python -m lossviz: error: {err}", file=sys.stderr)
        return 2
