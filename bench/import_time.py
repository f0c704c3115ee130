"""How long a cold start spends importing the control plane's Lambda module.

Each run is a fresh interpreter (``python -X importtime -c "import <module>"``), as a Lambda cold
start is. Two figures per run:

- wall: the module's cumulative import time as ``-X importtime`` reports it (interpreter start-up
  not included). What a cold start waits for, but sensitive to other load on the machine.
- cpu: user+system CPU time of the whole interpreter (start-up included), which hardly moves when
  the machine is busy; compare it with the empty interpreter's figure printed below it.

Prints the median and p95 over the runs, the heaviest imports, and which costly packages got
imported at all.

    .venv/bin/python bench/import_time.py                 # 20 runs of control_plane.app
    .venv/bin/python bench/import_time.py --runs 50 --module control_plane.app --top 15
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYCACHE = Path(tempfile.gettempdir()) / "tmux-builder-bench-pycache"
# Packages worth knowing about when they are imported at start-up.
WATCHED = (
    "boto3",
    "botocore.session",
    "s3transfer",
    "aws_xray_sdk.core",
    "cryptography",
    "requests",
    "urllib3",
    "jwt",
    "email_validator",
    "pydantic_settings",
)
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)$")


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python(code: str, *options: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``code`` in a fresh interpreter; its result and the CPU seconds it used."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "POWERTOOLS_", "TMUX_BUILDER_"))
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    # Bytecode is cached (as in a deployed package), outside the repository.
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    before = _cpu_of_children()
    done = subprocess.run(
        [sys.executable, *options, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done, _cpu_of_children() - before


def one_run(module: str) -> tuple[dict[str, tuple[int, int, int]], list[str], float]:
    """{module: (self_us, cumulative_us, depth)} for one fresh interpreter, what it loaded, and
    the CPU seconds it used."""
    code = (
        f"import {module}, json, sys; "
        f"print(json.dumps([m for m in {list(WATCHED)!r} if m in sys.modules]))"
    )
    done, cpu = _python(code, "-X", "importtime")
    if done.returncode != 0:
        raise SystemExit(f"import {module} failed:\n{done.stderr[-3000:]}")
    timings: dict[str, tuple[int, int, int]] = {}
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            timings[name] = (int(self_us), int(cumulative_us), len(indent) // 2)
    return timings, json.loads(done.stdout.strip().splitlines()[-1]), cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="control_plane.app")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)

    one_run(args.module)  # warm-up: writes the bytecode caches, as a deployed package has them
    totals: list[float] = []
    cpu_ms: list[float] = []
    empty_ms: list[float] = []
    cumulative: dict[str, list[int]] = defaultdict(list)
    by_package: dict[str, list[int]] = defaultdict(list)
    loaded: list[str] = []
    for _ in range(args.runs):
        timings, loaded, cpu = one_run(args.module)
        totals.append(timings[args.module][1] / 1000)
        cpu_ms.append(cpu * 1000)
        empty_ms.append(_python("pass")[1] * 1000)
        packages: dict[str, int] = defaultdict(int)
        for name, (self_us, cumulative_us, _depth) in timings.items():
            if name != args.module:
                cumulative[name].append(cumulative_us)
            packages[name.split(".")[0]] += self_us
        for package, self_us in packages.items():
            by_package[package].append(self_us)

    print(f"import {args.module}: {args.runs} fresh interpreters, {sys.version.split()[0]}")
    print("              wall (import)   cpu (interpreter)")
    print(f"  median    {statistics.median(totals):9.1f} ms {statistics.median(cpu_ms):12.1f} ms")
    print(f"  p95       {percentile(totals, 0.95):9.1f} ms {percentile(cpu_ms, 0.95):12.1f} ms")
    print(f"  min       {min(totals):9.1f} ms {min(cpu_ms):12.1f} ms")
    print(f"  empty interpreter, cpu median: {statistics.median(empty_ms):.1f} ms")
    print("\nheaviest imports (median cumulative ms, nested imports included):")
    heaviest = sorted(cumulative, key=lambda n: statistics.median(cumulative[n]), reverse=True)
    for name in heaviest[: args.top]:
        print(f"  {statistics.median(cumulative[name]) / 1000:7.1f}  {name}")
    print("\nheaviest top-level packages (median own ms, summed over their modules):")
    packages_sorted = sorted(
        by_package, key=lambda p: statistics.median(by_package[p]), reverse=True
    )
    for package in packages_sorted[: args.top]:
        print(f"  {statistics.median(by_package[package]) / 1000:7.1f}  {package}")
    print(f"\nimported at start-up: {', '.join(loaded) or 'none of the watched packages'}")
    print(f"not imported:         {', '.join(m for m in WATCHED if m not in loaded) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
