"""One home for output files: what a command writes, and how a folder holds one run's files.

An :class:`Output` names one file (or the folder ``maps/``), its format, what it holds
(the README's table is made from it, see :mod:`sharemap.outputs`), its schema and how
to make it from what the command computed. A command's outputs are a tuple of them;
adding an output is one entry and, where the format is new, one writer in :mod:`_io`.

:class:`OutputFolder` is how every command writes: the folder is checked and locked
*before* any computing, files are written into a hidden staging folder inside it, and
committed only when all of them are written:

1. **Checked first** (one-line :class:`OutputError`): ``--out`` must not name a file,
   must be a place that can be written, and no output may land on a file the study
   reads (its TOML, network, layers, boundaries, ...), nor may one be removed.
2. **Locked**: a second sharemap writing into the same folder stops at once with an
   error instead of interleaving its files (an OS lock, released even when killed).
3. **Staged**: files go to ``.sharemap-staging-*`` inside the folder. A run killed
   before the commit leaves the folder's previous files untouched; the next run into
   the folder removes the staging folder.
4. **Committed**: a journal is written, the previous run's index (``summary.json``) is
   removed first, then the previous run's files this run did not write, then the new
   files are moved in (renames on one file system, milliseconds) with the index last.
   So ``summary.json`` always lists every output file beside it. If the process dies
   during those renames, the next sharemap run into the folder finishes them from the
   journal before anything else.
5. **Recorded**: ``.sharemap-outputs.json`` lists the files this run wrote, with their
   sizes and modification times. Only files listed there are ever removed, and only if
   unchanged since: files sharemap did not write (the study's inputs in ``--out .``,
   notes, a table edited in Excel) are never touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from . import _io
from ._errors import OutputError

__all__ = ["INDEX_FORMAT", "MANIFEST", "Output", "OutputFolder", "input_paths", "names",
           "refuse_input", "write"]

logger = logging.getLogger(__name__)

#: The hidden record of what the last run wrote (name -> size, mtime).
MANIFEST = ".sharemap-outputs.json"
_JOURNAL = ".sharemap-commit.json"
_STAGING_PREFIX = ".sharemap-staging-"
_LOCK_FILE = ".sharemap.lock"  # only where directories cannot be locked (Windows)
INDEX_FORMAT = "json"


@dataclass(frozen=True)
class Output:
    """One output file of a command.

    Attributes
    ----------
    name
        File name inside the output folder; a name ending in ``/`` is a folder of files
        (``maps/``).
    fmt
        ``gpkg``, ``geojson``, ``csv``, ``json``, ``html`` or ``file``. For ``file``,
        `make` returns a function that writes the file (or folder) at the path it is given.
    holds
        What it holds, for the README's table of outputs.
    make
        ``make(source)`` returns what to write (a GeoDataFrame, DataFrame, dict, text, or
        for ``file`` a writer); None means not written this time (e.g. no groups).
    layer
        The GeoPackage layer name.
    columns
        The columns the file always has, in order (tables and layers; more may follow).
    when
        When it is written, if not always (README text), e.g. ``"with [coverage] groups"``.
    index
        The command's index JSON: written last, with ``"outputs"``: every file beside it.
    stage
        The ``summary.json`` ``seconds`` entry its writing time is added to.
    """

    name: str
    fmt: str
    holds: str
    make: Callable[[Any], Any]
    layer: str | None = None
    columns: tuple[str, ...] = ()
    when: str = ""
    index: bool = False
    stage: str = "write_tables"

    @property
    def is_folder(self) -> bool:
        """True for a folder of files (``maps/``)."""
        return self.name.endswith("/")


def names(outputs: Iterable[Output]) -> tuple[str, ...]:
    """Return the file (and folder) names of `outputs`, in order."""
    return tuple(o.name for o in outputs)


def input_paths(config: Any) -> tuple[Path, ...]:
    """Every file a study reads: each ``Path`` anywhere in its configuration, and the TOML.

    The configuration is walked (dataclasses, tuples, mappings), so an input added to
    it later is protected without being listed here.
    """
    found: list[Path] = []

    def walk(value: Any) -> None:
        if isinstance(value, Path):
            found.append(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, dict) or hasattr(value, "items"):
            for item in value.values():
                walk(item)
        elif isinstance(value, (tuple, list, set, frozenset)):
            for item in value:
                walk(item)

    walk(config)
    return tuple(dict.fromkeys(found))


def refuse_input(path: str | os.PathLike[str], config: Any) -> None:
    """Stop before a single file is written over one the study (`config`) reads.

    For the library's one-file writers (:func:`sharemap.report.write_report`); a
    command's folder is checked by :class:`OutputFolder`.

    Raises
    ------
    OutputError
        If `path` is (or links to) an input of `config`.
    """
    target = Path(path)
    for inp in input_paths(config):
        if target.absolute() == inp.absolute() or _same_file(target, inp):
            msg = (f"{target}: writing here would replace {inp}, which the study reads; "
                   "choose another file name")
            raise OutputError(msg)


# ----------------------------------------------------------------------------- writers


def _write_one(output: Output, obj: Any, path: Path) -> None:
    if output.fmt == "gpkg" and isinstance(obj, dict):  # several layers, the first `layer`
        _io.write_gpkg_layers(obj, path)
    elif output.fmt == "gpkg":
        _io.write_gpkg(obj, path, layer=output.layer or path.stem)
    elif output.fmt == "geojson":
        _io.write_geojson(obj, path)
    elif output.fmt == "csv":
        _io.write_csv(obj, path)
    elif output.fmt == "json":
        _io.write_json(obj, path)
    elif output.fmt == "html":
        _io.write_text(obj, path)
    elif output.fmt == "file":
        obj(path)
    else:  # pragma: no cover - a registry entry with a format nobody writes
        msg = f"output {output.name}: unknown format {output.fmt!r}"
        raise ValueError(msg)


def write(outputs: Sequence[Output], source: Any, out: str | os.PathLike[str] | OutputFolder,
          *, inputs: Iterable[str | os.PathLike[str]] = (),
          timings: dict[str, float] | None = None) -> dict[str, Path]:
    """Write `outputs` made from `source` into `out`, as one run's files.

    Parameters
    ----------
    outputs
        The command's registry entries.
    source
        What their ``make`` functions read.
    out
        A folder path (reserved, written and committed here), or an
        :class:`OutputFolder` already reserved by the caller (committed when it closes).
    inputs
        Files the run read, which no output may replace (only used with a path).
    timings
        Seconds per ``stage`` are added to it.

    Returns
    -------
    paths
        Name (``maps/<file>`` inside folders) to the file's final path.
    """
    if isinstance(out, OutputFolder):
        return out.write(outputs, source, timings=timings)
    with OutputFolder(out, outputs=outputs, inputs=inputs) as folder:
        return folder.write(outputs, source, timings=timings)


# ----------------------------------------------------------------------------- locking


class _Lock:
    """An exclusive OS lock on a folder, released when the process ends (even killed)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: lock a file in the folder instead
            self._acquire_windows()
            return
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _busy(self.folder) from None
        self.fd = fd

    def _acquire_windows(self) -> None:  # pragma: no cover - not run on Linux CI
        import msvcrt

        fd = os.open(self.folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            os.close(fd)
            raise _busy(self.folder) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def _busy(folder: Path) -> OutputError:
    return OutputError(f"{folder}: another sharemap run is writing into this folder; wait for "
                       "it to finish or choose another --out")


# ----------------------------------------------------------------------------- the folder


class OutputFolder:
    """An output folder reserved for one run: checked, locked, staged, then committed.

    Use it as a context manager around the computing, so that a bad ``--out`` stops the
    run before any work: ``with OutputFolder(out, outputs=..., inputs=...) as folder:``,
    compute, then :meth:`write`. Leaving the block normally commits the staged files;
    an exception discards them and leaves the folder as it was.

    Parameters
    ----------
    path
        The output folder (created with its parents).
    outputs
        Every output the run may write (their names are checked against `inputs`).
    inputs
        The files the run reads.

    Raises
    ------
    OutputError
        `path` is a file, cannot be created or written, is being written by another
        sharemap, or an output (or a previous run's file to remove) is one of `inputs`.
    """

    def __init__(self, path: str | os.PathLike[str], *, outputs: Sequence[Output] = (),
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.path = Path(path)
        self._outputs = tuple(outputs)
        self._inputs = tuple(Path(p) for p in inputs)
        self._lock: _Lock | None = None
        self.staging: Path | None = None
        self._index: tuple[str, dict[str, Any]] | None = None
        self._written = False
        self._created: list[Path] = []  # folders made here, removed again if nothing lands
        self._committed = False

    # -- reserve ------------------------------------------------------------------
    def __enter__(self) -> OutputFolder:
        self.open()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()

    def open(self) -> None:
        """Check the folder, lock it, finish or clear a previous run's leftovers, stage."""
        self._check_place()
        self._lock = _Lock(self.path)
        self._lock.acquire()
        try:
            _recover(self.path)
            _clear_staging(self.path)
            self._check_inputs(names(self._outputs), previous=True)
            self.staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=self.path))
        except BaseException:
            self.close()
            raise

    def _check_place(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            msg = f"--out {p}: this is a file, not a folder; name a folder for the outputs"
            raise OutputError(msg)
        missing = [p, *(a for a in p.parents if not a.exists())] if not p.exists() else []
        try:
            p.mkdir(parents=True, exist_ok=True)
            self._created = missing
            probe = tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=p)
            os.rmdir(probe)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            msg = f"--out {p}: cannot write there ({reason}); choose a folder you can write to"
            raise OutputError(msg) from None

    def _check_inputs(self, planned: Sequence[str], *, previous: bool = False) -> None:
        """No output may land on, or remove, a file the study reads."""
        if not self._inputs:
            return
        here = self.path.resolve()
        targets = [(name, here / name) for name in planned if not name.endswith("/")]
        if previous:  # the files of the last run that this run may remove
            targets += [(name, here / name) for name in _previous_files(self.path)
                        if name != "__index__" and name not in planned]
        folders = [(name, here / name.rstrip("/")) for name in planned if name.endswith("/")]
        for inp in self._inputs:
            real = Path(os.path.realpath(inp))
            for name, target in targets:
                if real == Path(os.path.realpath(target)) or _same_file(real, target):
                    if name in planned:
                        raise _overwrites(self.path, name, inp)
                    msg = (f"--out {self.path}: {inp} is an output of the previous run in "
                           "that folder, which this run would remove, and the study reads it; "
                           "choose another output folder (or move the file out of it)")
                    raise OutputError(msg)
            for name, folder in folders:
                if real.is_relative_to(Path(os.path.realpath(folder))):
                    raise _overwrites(self.path, name, inp)

    # -- write --------------------------------------------------------------------
    def write(self, outputs: Sequence[Output], source: Any, *,
              timings: dict[str, float] | None = None) -> dict[str, Path]:
        """Make and write `outputs` into the staging folder; return their final paths."""
        if self.staging is None:
            msg = "the output folder is not open (use it in a `with` block)"
            raise RuntimeError(msg)
        self._check_inputs(names(outputs))  # also those not named when reserved
        paths: dict[str, Path] = {}
        self._written = True
        for output in outputs:
            start = time.perf_counter()
            obj = output.make(source)
            if obj is not None:
                if output.index:
                    self._index = (output.name, obj)
                else:
                    target = self.staging / output.name.rstrip("/")
                    _write_one(output, obj, target)
            if timings is not None and obj is not None and not output.index:
                timings[output.stage] = round(
                    timings.get(output.stage, 0.0) + time.perf_counter() - start, 3)
        for rel in _files_under(self.staging):
            paths[rel] = self.path / rel
        if self._index is not None:
            paths[self._index[0]] = self.path / self._index[0]
        return paths

    # -- commit -------------------------------------------------------------------
    def commit(self) -> None:
        """Move the staged files in, remove the previous run's others, record them.

        A folder nothing was written into is left as it is.
        """
        if self.staging is None or not self._written:
            return
        staged = _files_under(self.staging)
        index = None
        if self._index is not None:
            name, content = self._index
            content = {**content, "outputs": sorted({*staged, name})}
            _io.write_json(content, self.staging / name)
            index = name
        new = [rel for rel in staged if rel != index] + ([index] if index else [])
        previous = _previous_files(self.path)
        old_index = previous.pop("__index__", None)
        stale = [rel for rel, meta in previous.items()
                 if rel not in new and _unchanged(self.path / rel, meta)]
        kept = sorted(rel for rel in previous if rel not in new and rel not in stale)
        if kept:
            logger.warning("Kept %s in %s: changed since sharemap wrote it, so it is not "
                           "removed although this run did not write it", ", ".join(kept),
                           self.path)
        first = old_index if old_index in new or old_index in stale else None
        journal = {"staging": self.staging.name, "first": first, "remove": stale,
                   "move": new, "index": index}
        _io.write_json(journal, self.path / _JOURNAL)
        _apply(self.path, journal)
        self.staging = None
        self._committed = True

    def close(self) -> None:
        """Discard what was staged (if not committed) and release the lock.

        A folder this run created and nothing was committed into is removed again, so a
        run that fails (bad input found while computing) leaves no trace.
        """
        try:
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                self.staging = None
            if not self._committed:
                for folder in self._created:  # deepest first
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def _overwrites(folder: Path, name: str, inp: Path) -> OutputError:
    return OutputError(
        f"--out {folder}: the output {name} would replace {inp}, which the study reads; "
        "choose another output folder")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _files_under(folder: Path) -> list[str]:
    """Relative POSIX names of the files under `folder` (hidden temporaries left out)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_root = PurePosixPath(Path(root).relative_to(folder).as_posix())
        out += [str(rel_root / f) if str(rel_root) != "." else f
                for f in sorted(files) if not f.startswith(".")]
    return out


def _stat(path: Path) -> dict[str, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _unchanged(path: Path, meta: Any) -> bool:
    """Tell whether `path` is still the file sharemap wrote (or the record has no stamp)."""
    now = _stat(path)
    if now is None:
        return False
    if not isinstance(meta, dict) or "bytes" not in meta:
        return True  # an older record without stamps: the name is all we know
    return now == {"bytes": meta["bytes"], "mtime_ns": meta.get("mtime_ns")}


def _previous_files(folder: Path) -> dict[str, Any]:
    """Return what the last run wrote into `folder`: name -> stamp, and ``__index__``.

    From the manifest; for a folder written before manifests existed, from the names
    its ``summary.json`` lists (plus an audit's ``report.html``).
    """
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = dict(record["files"])
        files["__index__"] = record.get("index")
        return files
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return _legacy_files(folder)


def _legacy_files(folder: Path) -> dict[str, Any]:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not (isinstance(summary, dict) and {"study", "outputs", "versions"} <= summary.keys()):
        return {}
    files: dict[str, Any] = {str(n): None for n in summary["outputs"]
                             if isinstance(n, str) and (folder / n).is_file()
                             and ".." not in PurePosixPath(n).parts}
    report = folder / "report.html"
    with contextlib.suppress(OSError):
        if report.is_file() and "<title>Coverage audit:" in report.read_text(
                encoding="utf-8", errors="replace")[:4000]:
            files["report.html"] = None
    files["__index__"] = "summary.json" if "summary.json" in files else None
    return files


def _apply(folder: Path, journal: dict[str, Any]) -> None:
    """Carry out a commit journal (idempotent: a rerun after a crash finishes it)."""
    staging = folder / str(journal["staging"])
    first = journal.get("first")
    if first:
        (folder / first).unlink(missing_ok=True)  # the old index goes first
    for rel in journal["remove"]:
        (folder / rel).unlink(missing_ok=True)
        _remove_empty_parents(folder, folder / rel)
    for rel in journal["move"]:
        src, dst = staging / rel, folder / rel
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    record = {"written_by": "sharemap", "index": journal.get("index"),
              "files": {rel: _stat(folder / rel) for rel in journal["move"]
                        if (folder / rel).is_file()}}
    _io.write_json(record, folder / MANIFEST)
    (folder / _JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def _remove_empty_parents(folder: Path, path: Path) -> None:
    parent = path.parent
    while parent != folder and folder in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _recover(folder: Path) -> None:
    """Finish a commit that a killed run left half done."""
    journal_path = folder / _JOURNAL
    if not journal_path.is_file():
        return
    try:
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
        if not {"staging", "remove", "move"} <= set(journal):
            raise KeyError("staging")
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("Ignoring an unreadable commit journal %s", journal_path)
        journal_path.unlink(missing_ok=True)
        return
    logger.warning("Finishing the commit of an interrupted sharemap run in %s", folder)
    _apply(folder, journal)


def _clear_staging(folder: Path) -> None:
    """Remove staging folders of runs that were killed (we hold the lock: none is live)."""
    for entry in folder.glob(f"{_STAGING_PREFIX}*"):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def reserved(path: str | os.PathLike[str], *, outputs: Sequence[Output] = (),
             inputs: Iterable[str | os.PathLike[str]] = ()) -> Iterator[OutputFolder]:
    """``with reserved(out, outputs=..., inputs=...) as folder:`` (see :class:`OutputFolder`)."""
    with OutputFolder(path, outputs=outputs, inputs=inputs) as folder:
        yield folder
