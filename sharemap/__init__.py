"""sharemap: 15-minute walking access to Seoul's sharing services and sharing villages.

The public API is flat (``sharemap.run_study``, ``sharemap.walk_times``, ...);
the modules stay importable, one per pipeline stage.

The house
---------
Data flow one way, and so do imports: a module imports only the modules below it
(import-linter checks it in CI: ``[tool.importlinter]`` in pyproject.toml). From
the bottom up:

- the stages, each computing one thing from plain tables and returning
  GeoDataFrames: ``hours`` (opening hours), ``config`` (the study TOML),
  ``layers`` (spaces from files), ``network`` (the walking graph), ``access``
  (snapping, :class:`PreparedPoints`, walk times, pairs and counts within a walk),
  ``blocks`` and ``isochrones``, ``villages``, ``gaps``, ``coverage``, ``supply``,
  ``maps``;
- the study level: ``pipeline`` chains the stages into a :class:`StudyResult` and
  writes a run's folder; ``study`` asks a finished study new questions (what-if,
  sweep, explain, candidate sites); ``report`` and ``suggest`` build on them;
- ``cli`` on top: each subcommand is one call into the API.

Prepare once, then compute: a study snaps and joins its block origins and spaces
once (:func:`prepare_points`), and every stage and command reuses them. Private
modules (``_engine``, ``_readers``, ``_static_map``, ...) serve the modules that
import them, and a private name never crosses modules.

Where a new thing goes
----------------------
- a new layer format: a file type in ``_readers``; a Seoul column layout in
  ``_presets`` (a preset);
- a new measure: its own stage module (as ``supply``), taking prepared points for
  any walk, called in ``pipeline.run_study`` and placed in the import contract; a
  new kind of walk between points (pairs, counts, nearest): ``access``;
- a new output: a run's files are written in ``pipeline`` (``write_outputs``); a
  command's own files beside its computation (``study``, ``suggest``, ``report``);
- a new command: a subcommand in ``cli`` making one call, to a function in
  ``study`` when it needs a whole study.
"""

from __future__ import annotations

import logging
from typing import Any

from ._errors import (
    ConfigError as ConfigError,
)
from ._errors import (
    CRSError as CRSError,
)
from ._errors import (
    InputDataError as InputDataError,
)
from ._errors import (
    MissingDependencyError as MissingDependencyError,
)
from ._errors import (
    NetworkDownloadError as NetworkDownloadError,
)
from ._errors import (
    OutputError as OutputError,
)
from ._errors import (
    SharemapError as SharemapError,
)
from ._errors import (
    StudyCheckError as StudyCheckError,
)
from .access import PreparedPoints as PreparedPoints
from .access import count_within as count_within
from .access import prepare_points as prepare_points
from .access import snap_points as snap_points
from .access import spaces_within as spaces_within
from .access import walk_times as walk_times
from .blocks import blocks_from_network as blocks_from_network
from .blocks import read_barriers as read_barriers
from .blocks import read_blocks as read_blocks
from .checks import Check as Check
from .config import StudyConfig as StudyConfig
from .config import read_config as read_config
from .coverage import compute_coverage as compute_coverage
from .coverage import read_boundaries as read_boundaries

# `sharemap.isochrones` is the function, bound after its module (sharemap/isochrones.py)
# is imported; the module stays importable as `from sharemap.isochrones import ...`
from .isochrones import isochrones as isochrones
from .layers import read_layer as read_layer
from .layers import read_layers as read_layers
from .network import WalkNetwork as WalkNetwork
from .network import load_network as load_network
from .network import network_from_bbox as network_from_bbox
from .network import network_from_graph as network_from_graph
from .network import network_from_graphml as network_from_graphml
from .network import network_from_osm_pbf as network_from_osm_pbf
from .network import network_from_osm_xml as network_from_osm_xml
from .network import network_from_place as network_from_place
from .pipeline import StudyResult as StudyResult
from .pipeline import run_study as run_study
from .pipeline import write_outputs as write_outputs
from .report import write_report as write_report
from .study import explain_block as explain_block
from .study import sweep as sweep
from .supply import compute_supply as compute_supply
from .villages import compute_candidates as compute_candidates
from .villages import compute_villages as compute_villages

__all__ = [
    "CRSError",
    "ConfigError",
    "InputDataError",
    "MissingDependencyError",
    "NetworkDownloadError",
    "OutputError",
    "PreparedPoints",
    "SharemapError",
    "StudyConfig",
    "StudyResult",
    "WalkNetwork",
    "blocks_from_network",
    "compute_candidates",
    "compute_coverage",
    "compute_supply",
    "compute_villages",
    "count_within",
    "explain_block",
    "isochrones",
    "load_network",
    "network_from_bbox",
    "network_from_graph",
    "network_from_graphml",
    "network_from_osm_pbf",
    "network_from_osm_xml",
    "network_from_place",
    "prepare_points",
    "read_barriers",
    "read_blocks",
    "read_boundaries",
    "read_config",
    "read_layer",
    "read_layers",
    "run_study",
    "snap_points",
    "spaces_within",
    "sweep",
    "walk_times",
    "write_outputs",
    "write_report",
]


def __getattr__(name: str) -> Any:
    # `__version__` is read from the installed package's metadata when asked for, not
    # at import: importlib.metadata costs every start-up tens of milliseconds
    if name == "__version__":
        from ._compat import package_version

        return package_version("sharemap", missing="0+unknown")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


logging.getLogger(__name__).addHandler(logging.NullHandler())
