"""`python -m lossviz ARGS` run inside the test process: what the command line prints and
returns, without a new interpreter importing torch for every call (about 2.5 s each here).
One test in tests/unit/test_cli.py still runs the real `python -m lossviz` end to end."""
import contextlib
import io
import subprocess

import torch

from lossviz.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    stdout, stderr = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()  # `bake --threads` sets it for the whole process
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse: --help (0) and bad flags (2)
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(["lossviz", *args], code, stdout.getvalue(),
                                       stderr.getvalue())
