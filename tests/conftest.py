import os
import time

import pytest

from lossviz.data import Dataset, load_bundled


@pytest.fixture(scope="session")
def bundled():
    return load_bundled()


@pytest.fixture(scope="session")
def small_set(bundled):
    """512 training digits and 200 test digits: enough to see learning within seconds."""
    return Dataset("small", bundled.class_names, bundled.train_images[:512],
                   bundled.train_labels[:512], bundled.test_images[:200], bundled.test_labels[:200])


def wait_for(predicate, timeout=60.0, what="condition"):
    """Poll predicate until it holds; fail after timeout seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.05)


def process_gone(pid: int) -> bool:
    """Ended and reaped: a zombie still has its /proc entry."""
    return not os.path.exists(f"/proc/{pid}")


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command's name (which may hold spaces): the state,
    then the parent's id, ..."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def process_dead(pid: int) -> bool:
    """Ended, reaped or not: an orphan handed to an init that does not reap (a container's)
    stays a zombie."""
    try:
        return _stat_fields(pid)[0] == "Z"
    except FileNotFoundError:
        return True


def generations_under(pid: int) -> list[list[int]]:
    """The processes under pid, its children first, then theirs: training processes are
    forked by the fork server, a child of the web server (lossviz.host.training_start)."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = parent_of(int(entry))
        except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
            continue
    generations = [[pid]]
    while below := [child for child, parent in parents.items() if parent in generations[-1]]:
        generations.append(below)
    return generations[1:]


def descendants_of(pid: int) -> list[int]:
    return [found for generation in generations_under(pid) for found in generation]


@pytest.fixture
def make_registry():
    """Registries for a test; each is stopped afterwards, and its training process must then
    be gone (ended and reaped) within a deadline."""
    from lossviz.registry import Registry
    made = []

    def make(**options):
        made.append(Registry(**options))
        return made[-1]

    yield make
    for registry in made:
        pids = registry.process_ids
        registry.stop()
        wait_for(lambda: all(process_gone(pid) for pid in pids), 20, "training process gone")
