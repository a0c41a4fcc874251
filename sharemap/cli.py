"""The ``sharemap`` command line: a thin shell over the public API.

Every subcommand makes one call into the library; a :class:`SharemapError`
becomes a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import SharemapError

__all__ = ["main"]

logger = logging.getLogger("sharemap")

EPILOG_RUN = """example:
  sharemap run data/demo/study.toml --out out/demo
"""
EPILOG_DEMO = """example:
  sharemap demo --out out/demo     # then open out/demo/map.html
"""


def _print_summary(summary: dict, out: Path) -> None:
    c = summary["counts"]
    lines = [f"sharemap: {summary['study']}"]
    by_cat = ", ".join(f"{k} {v}" for k, v in c["spaces_by_category"].items()) or "none"
    lines.append(f"  spaces analysed : {c['spaces']} ({by_cat})")
    by_reason = ", ".join(f"{k} {v}" for k, v in c["rejects_by_reason"].items()) or "none"
    lines.append(f"  rows rejected   : {c['rejects']} ({by_reason}) -> rejects.csv")
    lines.append(f"  blocks          : {c['blocks']}")
    lines.append(f"  candidates      : {c['candidates']} blocks with enough adjacent spaces")
    lines.append(f"  villages        : {c['villages']}")
    head = summary.get("coverage_headline") or {}
    if head:
        share = head.get("share_population_all")
        what = "residents"
        if share is None:
            share, what = head.get("share_blocks_all"), "blocks"
        pct = "n/a" if share is None else f"{100 * share:.1f}%"
        lines.append(f"  {what} within {head['threshold_min']:g} min of every category: {pct}")
    lines.append(f"  outputs in      : {out}")
    lines.append(f"  map             : {out / 'map.html'}")
    print("\n".join(lines))


def _run(config_path: Path, out: Path, progress: bool) -> int:
    from .config import read_config
    from .pipeline import run_study, write_outputs

    result = run_study(read_config(config_path), progress=progress)
    write_outputs(result, out, progress=progress)
    _print_summary(result.summary, out)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.config), Path(args.out), args.progress)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import get_path

    return _run(get_path("demo"), Path(args.out), args.progress)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharemap",
        description="Walking access to Seoul's sharing services and sharing-village candidates.",
        epilog="examples:\n  sharemap demo --out out/demo\n  sharemap run study.toml --out out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run a study from its TOML configuration",
                         epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", help="the study's TOML file")
    run.add_argument("--out", required=True, help="output folder")
    run.set_defaults(func=_cmd_run)
    demo = sub.add_parser("demo", help="run the shipped synthetic demo district",
                          epilog=EPILOG_DEMO, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", default="sharemap-demo", help="output folder")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"sharemap {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    _configure_logging(args.verbose, args.quiet)
    args.progress = not args.quiet and sys.stderr.isatty()
    try:
        return int(args.func(args))
    except SharemapError as exc:
        print(f"sharemap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sharemap: interrupted; finished outputs are complete, others were not written",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
