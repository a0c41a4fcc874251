"""The one exception hierarchy for user-facing errors.

Every error a user can cause (bad file, bad configuration, bad CRS, no network)
is a :class:`SharemapError`; the CLI turns it into a one-line message.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "ConfigError",
    "InputDataError",
    "MissingDependencyError",
    "NetworkDownloadError",
    "OutputError",
    "SharemapError",
    "StudyCheckError",
]


class SharemapError(Exception):
    """Root of every error sharemap raises on purpose."""


class InputDataError(SharemapError, ValueError):
    """An input file cannot be used; the message names the file, row and column."""


class ConfigError(SharemapError, ValueError):
    """A study configuration is invalid; the message names the key."""


class CRSError(SharemapError, ValueError):
    """A coordinate reference system is missing, unsupported or inconsistent."""


class NetworkDownloadError(SharemapError, RuntimeError):
    """Downloading OpenStreetMap data failed (offline, blocked or refused)."""


class MissingDependencyError(SharemapError, ImportError):
    """An optional dependency is needed for the requested feature."""


class StudyCheckError(SharemapError, ValueError):
    """A study's inputs do not fit together (see :mod:`sharemap.checks`); names the fix."""


class OutputError(SharemapError, ValueError):
    """The output folder cannot be used (a file, unwritable, busy, or it holds an input)."""
