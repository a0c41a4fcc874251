"""Facts about the installed software that several modules need (versions)."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version(pkg: str, missing: str = "unknown") -> str:
    """Return the installed version of `pkg` (`missing` when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return missing
