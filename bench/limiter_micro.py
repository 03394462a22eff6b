"""CPU and memory of the in-memory rate limiter (`MemoryWindows`), old against new in turns.

    PYTHONPATH=src python -m bench.limiter_micro [--calls N] [--rounds R] [FILE ...]

Each FILE is a copy of `ratelimit_memory.py` (e.g. one from `git show main:...`); none: this
tree's. Measured for each, the files alternating in every round (A, B, A, B):

- hit_all, send: one `hit_all` as an email send makes it under the bench's limits: a new
  recipient's window (a million a minute) and the project's (a billion an hour), µs of CPU
  (`time.process_time`) per call, the real clock;
- hit_all, hot key: the project's window alone;
- memory, 500k on one key: bytes traced (tracemalloc) after 500,000 events on one key in less
  than its hour (a fake clock, 7.2 ms apart: about the soak's sends of an hour);
- memory, 30k keys: after one event on each of 30,000 keys ("5/hour"), the shape of a day's
  distinct recipients.

Medians over the rounds are printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import limits

HERE = Path(__file__).resolve().parent.parent / "src" / "antechamber" / "ratelimit_memory.py"
RECIPIENT = limits.parse("1000000/minute")
PROJECT = limits.parse("1000000000/hour")
FIVE_AN_HOUR = limits.parse("5/hour")


def _load(path: Path, index: int) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_limiter_{index}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cpu_send(module: ModuleType, calls: int) -> float:
    windows: Any = module.MemoryWindows()
    project = ("ns", "email:project", "p")
    plans = [
        [(RECIPIENT, ("ns", "email:recipient", f"r{i}")), (PROJECT, project)] for i in range(calls)
    ]
    started = time.process_time()
    for plan in plans:
        windows.hit_all(plan)
    return 1e6 * (time.process_time() - started) / calls


def _cpu_hot(module: ModuleType, calls: int) -> float:
    windows: Any = module.MemoryWindows()
    plan = [(PROJECT, ("ns", "email:project", "p"))]
    started = time.process_time()
    for _ in range(calls):
        windows.hit_all(plan)
    return 1e6 * (time.process_time() - started) / calls


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _memory(module: ModuleType, keys: int, events: int, item: limits.RateLimitItem) -> float:
    clock = _Clock()
    windows: Any = module.MemoryWindows(now=clock)
    names = [("ns", "email:recipient", f"r{i}") for i in range(keys)]
    tracemalloc.start()
    for _ in range(events):
        for ids in names:
            windows.hit(item, *ids)
        clock.now += 3600 / 500_000
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return held / 1e6


MEASURES = {
    "hit_all, send (µs)": lambda m, n: _cpu_send(m, n),
    "hit_all, hot key (µs)": lambda m, n: _cpu_hot(m, n),
    "memory, 500k on one key (MB)": lambda m, n: _memory(m, 1, 500_000, PROJECT),
    "memory, 30k keys (MB)": lambda m, n: _memory(m, 30_000, 1, FIVE_AN_HOUR),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="ratelimit_memory.py copies")
    parser.add_argument("--calls", type=int, default=50_000, help="hit_all calls a round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, files in turns")
    parser.add_argument("--cpu-only", action="store_true", help="skip the memory measures")
    args = parser.parse_args()
    files: list[Path] = args.files or [HERE]
    modules = [_load(path, i) for i, path in enumerate(files)]
    measures = {k: v for k, v in MEASURES.items() if not (args.cpu_only and "memory" in k)}
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for name, measure in measures.items():
            for i, module in enumerate(modules):
                results.setdefault((name, i), []).append(measure(module, args.calls))
    for name in measures:
        for i, path in enumerate(files):
            values = results[(name, i)]
            spread = f"{min(values):.3f}–{max(values):.3f}"
            print(f"{name:<30} {path!s:<55} {statistics.median(values):>9.3f}  ({spread})")


if __name__ == "__main__":
    main()
