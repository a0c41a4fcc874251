"""The only module that touches the internet: OSM downloads through osmnx.

osmnx does the Overpass and Nominatim work and caches every HTTP response on
disk; this module points that cache at a per-user folder and turns every way a
download can fail into one :class:`NetworkDownloadError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx

from ._cache import cache_dir
from ._errors import NetworkDownloadError

__all__ = ["download_walk_graph", "way_tags"]

logger = logging.getLogger(__name__)


@contextmanager
def way_tags(tags: Iterable[str]) -> Iterator[None]:
    """Have osmnx keep the way tags `tags` (besides its own) on the edges of the graphs it builds.

    osmnx copies onto edges only the tags in ``ox.settings.useful_tags_way``, which
    leaves out ``wheelchair`` and ``incline``; the setting is restored afterwards.
    """
    import osmnx as ox

    before = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys([*before, *tags]))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = before


def download_walk_graph(*, place: str | None = None,
                        bbox: tuple[float, float, float, float] | None = None) -> nx.MultiDiGraph:
    """Download an OSM walk network by place name or WGS84 bounding box.

    Parameters
    ----------
    place
        A place name Nominatim can geocode, e.g. ``"Dongdaemun-gu, Seoul, South Korea"``.
    bbox
        ``(west, south, east, north)`` in degrees.

    Returns
    -------
    G
        osmnx's walk graph (``network_type="walk"``), unprojected, all components kept.

    Raises
    ------
    NetworkDownloadError
        When offline, refused, or the place cannot be found.
    """
    import osmnx as ox  # heavy, and only needed here

    folder = cache_dir() / "osmnx"
    folder.mkdir(parents=True, exist_ok=True)
    ox.settings.use_cache = True
    ox.settings.cache_folder = str(folder)
    if (place is None) == (bbox is None):
        msg = "give exactly one of `place` or `bbox`"
        raise ValueError(msg)
    what = f"place {place!r}" if place is not None else f"bbox {bbox}"
    from ._graphml import EDGE_TAGS

    try:
        with way_tags(EDGE_TAGS):
            if place is not None:
                graph: Any = ox.graph_from_place(place, network_type="walk", retain_all=True)
            elif bbox is not None:
                graph = ox.graph_from_bbox(bbox, network_type="walk", retain_all=True)
    except Exception as exc:  # requests, osmnx response and geocoder errors
        msg = (
            f"could not download the OSM walk network for {what}: {type(exc).__name__}: {exc}. "
            "Check the internet connection, or use a local file ([network] osm_xml or graphml)"
        )
        raise NetworkDownloadError(msg) from None
    logger.info("Downloaded walk network for %s (cache: %s)", what, folder)
    return graph
