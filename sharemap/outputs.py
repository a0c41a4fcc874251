"""The registry of every command's output files.

Each command's files are a tuple of :class:`~sharemap._outputs.Output` entries kept
beside the code that makes them (``pipeline.RUN_OUTPUTS``, ``report.AUDIT_OUTPUTS``,
``suggest.SUGGEST_OUTPUTS``, ``study.WHATIF_OUTPUTS``, ``study.SWEEP_OUTPUTS``,
``plan.PLAN_OUTPUTS``, ``compare.COMPARE_OUTPUTS``); this
module names them per command. From it come the writing (every command writes through
:class:`~sharemap._outputs.OutputFolder`), ``summary.json``'s ``outputs``, the README's
tables of outputs (:func:`readme_table`; a test keeps the README equal to it) and CI's
check of the demo's folder (``python -m sharemap.outputs check out/demo demo``).

Adding an output is one entry in its command's tuple (and a writer in ``_io`` if its
format is new); a new command adds its tuple to :data:`COMMANDS`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ._outputs import MANIFEST, Output, OutputFolder, input_paths

__all__ = ["COMMANDS", "Output", "OutputFolder", "missing_outputs", "outputs_of",
           "readme_table", "reserve"]

#: Command name -> (module, attribute) of its registry entries.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipeline", "RUN_OUTPUTS"),
    "demo": ("pipeline", "RUN_OUTPUTS"),
    "audit": ("report", "AUDIT_OUTPUTS"),
    "suggest": ("suggest", "SUGGEST_OUTPUTS"),
    "whatif": ("study", "WHATIF_OUTPUTS"),
    "sweep": ("study", "SWEEP_OUTPUTS"),
    "plan": ("plan", "PLAN_OUTPUTS"),
    "compare": ("compare", "COMPARE_OUTPUTS"),
}


def outputs_of(command: str) -> tuple[Output, ...]:
    """Return the registry entries of `command` (imported only when asked)."""
    from importlib import import_module

    module, attr = COMMANDS[command]
    return tuple(getattr(import_module(f"sharemap.{module}"), attr))


def reserve(command: str, out: str | os.PathLike[str], config: Any = None, *,
            extra_inputs: Iterable[str | os.PathLike[str]] = ()) -> OutputFolder:
    """Check and lock `out` for `command` before any computing.

    Use as ``with reserve("run", out, config) as folder:``, then compute and write into
    `folder`; the files are committed when the block ends (see
    :class:`~sharemap._outputs.OutputFolder`).

    Raises
    ------
    OutputError
        `out` is a file or cannot be written, another sharemap is writing into it, or an
        output would replace a file the study (`config`) or `extra_inputs` reads.
    """
    inputs = [*(input_paths(config) if config is not None else ()), *map(Path, extra_inputs)]
    return OutputFolder(out, outputs=outputs_of(command), inputs=inputs)


def readme_table(command: str, *, beyond: str | None = None) -> str:
    """Return the README's Markdown table of `command`'s output files.

    With `beyond`, only the files that command does not write (``audit`` beyond ``run``).
    """
    rows = ["| file | what it holds |", "|---|---|"]
    skip = {o.name for o in outputs_of(beyond)} if beyond else set()
    for o in outputs_of(command):
        if o.name in skip:
            continue
        name = f"`{o.name}`"
        if o.fmt == "gpkg":
            name += f" (layer `{o.layer}`, EPSG:4326)"
        when = f" ({o.when})" if o.when else ""
        rows.append(f"| {name}{when} | {o.holds} |")
    return "\n".join(rows) + "\n"


def missing_outputs(folder: str | os.PathLike[str], command: str) -> list[str]:
    """Return what a finished `command` should have written into `folder` but did not.

    Every entry without a ``when`` condition must be there and not empty, the
    ``summary.json``-style index must list every file beside it, and the folder must
    hold the manifest of the run.
    """
    import json

    base = Path(folder)
    problems = [o.name for o in outputs_of(command)
                if not o.when and not o.is_folder
                and not ((base / o.name).is_file() and (base / o.name).stat().st_size)]
    index = next((o.name for o in outputs_of(command) if o.index), None)
    if not (base / MANIFEST).is_file():
        problems.append(MANIFEST)
    if index and (base / index).is_file():
        listed = set(json.loads((base / index).read_text(encoding="utf-8"))["outputs"])
        present = {p.relative_to(base).as_posix() for p in base.rglob("*")
                   if p.is_file() and not any(part.startswith(".")
                                              for part in p.relative_to(base).parts)}
        problems += [f"{name} (not listed in {index})" for name in sorted(present - listed)]
        problems += [f"{name} (listed in {index}, absent)" for name in sorted(listed - present)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sharemap.outputs check DIR COMMAND`` or ``... readme COMMAND``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "check":
        problems = missing_outputs(args[1], args[2])
        for p in problems:
            print(f"{args[1]}: missing or wrong: {p}", file=sys.stderr)
        return 1 if problems else 0
    if len(args) in (2, 3) and args[0] == "readme":
        print(readme_table(args[1], beyond=args[2] if len(args) == 3 else None), end="")
        return 0
    print("usage: python -m sharemap.outputs check DIR COMMAND | readme COMMAND [BEYOND]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
