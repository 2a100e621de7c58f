"""`python -m kuberay [--check]`: render `kuberay/` from `configs/serve.yaml` and the pinned versions.

Without `--check` it rewrites the stale files; with `--check` it writes nothing and exits 1 naming every stale
file (CI runs this, so a `configs/serve.yaml` change without `make render` fails the build). Exit 2 on errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kuberay.pins import installed_pins
from kuberay.render import dockerfile_problem, expected_files, stale_files, write_files
from rayship.errors import RayshipError

DEFAULT_REPO_ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kuberay", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    parser.add_argument("--repo-root", type=Path, default=DEFAULT_REPO_ROOT, help="the rayship checkout")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    repo_root = args.repo_root.resolve()
    pins = installed_pins()
    try:
        expected = expected_files(repo_root, pins)
    except RayshipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = dockerfile_problem(repo_root, pins)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
    if args.check:
        return _report_stale(stale_files(repo_root, expected)) or int(problem is not None)
    for rel_path in write_files(repo_root, expected):
        print(f"rendered {rel_path}")
    print(f"kuberay/ is up to date ({len(expected)} rendered files, ray {pins.ray_version})")
    return int(problem is not None)


def _report_stale(stale: list[str]) -> int:
    for rel_path in stale:
        print(f"stale: {rel_path} (run `make render`)", file=sys.stderr)
    return 1 if stale else 0
