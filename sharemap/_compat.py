"""Facts about the installed software that several modules need (versions), and renames."""

from __future__ import annotations

import functools
import warnings

__all__ = ["package_version", "warn_renamed"]


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that `old` is deprecated for one release in favour of `new` (a FutureWarning).

    `stacklevel` 3 points at the code that used `old` through a property or a
    module ``__getattr__``.
    """
    warnings.warn(f"{old} is deprecated and will be removed in the next release: use {new}",
                  FutureWarning, stacklevel=stacklevel)


@functools.cache
def package_version(pkg: str, missing: str = "unknown") -> str:
    """Return the installed version of `pkg` (`missing` when it is not installed).

    Read once per process (a metadata lookup scans the site-packages folders: a few
    milliseconds, and every cache key holds three versions).
    """
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return missing
