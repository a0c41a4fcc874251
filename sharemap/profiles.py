"""Mobility profiles: who walks the network, at what pace, and on which streets.

A study's walk is everyone's: every walkable way, steps included, at
``walk_speed_kmh``. A **profile** is a walking speed and a network filter, so that
a population group (``[coverage] groups``, ``profile = ...``) can be audited on the
streets it can use. Built in (:data:`PROFILES`):

``walk``
    Every walkable way (no filter); 3.6 km/h, the pace of ``[coverage] groups``.
``wheelchair``
    No ``highway=steps``, no way tagged ``wheelchair=no``, and, where ``incline`` is
    tagged with a figure, no slope steeper than 1:12 (8.33%, the steepest ramp
    Korea's accessibility rules and the US ADA allow); 3.3 km/h (3 ft/s, the
    walking speed US signal timing assumes where wheelchair users cross).
``stroller``
    No ``highway=steps``; 3.6 km/h.

A group's own ``walk_speed_kmh`` overrides the profile's.

How the filter reads the tags: osmnx merges the ways of a simplified street into
one edge and lists their tags (``['steps', 'footway']``, kept as ``footway;steps``):
an edge any of whose parts is steps is steps, any part tagged ``wheelchair=no`` makes
the edge ``wheelchair=no``, and the steepest figure among its parts is its incline.
``incline`` figures are read as percent (``8%``, ``-10 %``, ``8``) or degrees
(``5°``, ``5 deg``); ``up``, ``down`` and other words give no slope and keep the
edge (counted as ``incline_unknown``). After the filter, the largest connected piece
is kept, as for the network itself; the edges of the other pieces are
``disconnected``.

Points join the network where everyone joins it (the nearest street of the full
network, :func:`sharemap.access.snap_points`): a block origin or a space whose
street the profile cannot use, or whose street lies on a piece the filter cut off,
is **cut off** for that profile: it reaches nothing and nothing reaches it, and
:func:`cut_off_points` says which and why (``summary.json`` ``"profiles"`` lists
them). Joining it to another street instead would let it cross, as the crow flies,
the steps that stand between.

:func:`profile_network` derives a profile's network once per network (cached like
the prepared network and the blocks, keyed on the network's content, the profile
and this module's code); :func:`profile_points` puts a study's prepared points on
it without snapping anything again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _cache, _profiles
from ._errors import InputDataError
from ._profiles import (
    DISCONNECTED,
    EDGE_REASONS,
    MAX_RAMP_PCT,
    PROFILES,
    STROLLER,
    WALK,
    WHEELCHAIR,
    Profile,
    edge_reasons,
    get_profile,
    incline_percent,
)
from .access import PreparedPoints, join_points, walk_col
from .network import WalkNetwork, undirected_csr

if TYPE_CHECKING:
    from .config import GroupConfig

__all__ = [
    "EDGE_REASONS",
    "MAX_RAMP_PCT",
    "PROFILES",
    "STROLLER",
    "WALK",
    "WHEELCHAIR",
    "Profile",
    "ProfileNetwork",
    "at_group_speed",
    "cut_off_points",
    "edge_reasons",
    "get_profile",
    "group_minutes",
    "group_walk_col",
    "incline_percent",
    "profile_network",
    "profile_points",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- network


@dataclass(frozen=True, eq=False)
class ProfileNetwork:
    """A walking network as a profile may use it.

    Attributes
    ----------
    profile
        The profile.
    base
        The full walking network.
    network
        The usable edges (those of the largest piece left by the filter) with every
        node of `base` at the same position (so a node off that piece has no edge).
    edge_reason
        Per edge of `base`, a code into :data:`EDGE_REASONS` (0: usable).
    info
        Counts for ``summary.json``: ``edges_removed`` by reason, ``incline_unknown``,
        ``pieces_dropped``, ``length_km_removed``, ``cache``.
    """

    profile: Profile
    base: WalkNetwork
    network: WalkNetwork
    edge_reason: npt.NDArray[np.int8]
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        removed = ", ".join(f"{k} {v:,}" for k, v in self.info["edges_removed"].items() if v)
        return (f"ProfileNetwork({self.profile.name!r}: {len(self.network.edges):,} of "
                f"{len(self.base.edges):,} edges usable; removed: {removed or 'none'})")

    @property
    def edge_map(self) -> npt.NDArray[np.int64]:
        """Per edge of `base`, its row in ``network.edges`` (-1: left out)."""
        usable = self.edge_reason == 0
        out = np.full(len(usable), -1, dtype=np.int64)
        out[usable] = np.arange(int(usable.sum()))
        return out


def _derive_reasons(network: WalkNetwork, profile: Profile) -> npt.NDArray[np.int8]:
    """Edge reasons from the tags, then ``disconnected`` for the pieces off the largest."""
    from scipy.sparse.csgraph import connected_components

    reason, _ = edge_reasons(network.edges, profile)
    usable = reason == 0
    u, v = network.edge_u[usable], network.edge_v[usable]
    csr = undirected_csr(u, v, network.edge_length[usable], network.n_nodes)
    n_comp, labels = connected_components(csr, directed=False)
    has = np.zeros(network.n_nodes, dtype=bool)
    has[u] = True
    has[v] = True
    if has.any():
        sizes = np.bincount(labels[has], minlength=n_comp)
        main = int(np.argmax(sizes))
        off = usable & (labels[network.edge_u] != main)
        reason[off] = DISCONNECTED
    return reason


def _reasons_codec() -> _cache.Codec[npt.NDArray[np.int8]]:
    return _cache.Codec(lambda r: {"reason": np.asarray(r, dtype=np.int8)},
                        lambda z: np.asarray(z["reason"], dtype=np.int8))


def profile_network(network: WalkNetwork, profile: str | Profile, *,
                    cache: bool = True) -> ProfileNetwork:
    """Derive the network a profile may use (once per network: cached).

    Parameters
    ----------
    network
        The walking network.
    profile
        A built-in profile's name (:data:`PROFILES`) or a :class:`Profile`.
    cache
        Keep which edges the profile leaves out in the user cache folder
        (``profiles/``), keyed on the network's content, the profile and this code.

    Returns
    -------
    profile_network
        The usable network and, per edge of `network`, why it is left out.

    Examples
    --------
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> pnet = profile_network(net, "wheelchair", cache=False)
    >>> pnet.info["edges_removed"]  # the demo district has no steps
    {'steps': 0, 'wheelchair_no': 0, 'incline': 0, 'disconnected': 0}
    """
    prof = get_profile(profile)
    if cache:
        key = _cache.cache_key("profile", _cache.network_fingerprint(network), asdict(prof),
                               code=(Path(__file__), Path(_profiles.__file__)))
        reason, status = _cache.cached(
            "profiles", key, lambda: _derive_reasons(network, prof),
            what=f"{prof.name} profile network", codec=_reasons_codec(),
            valid=lambda r: len(r) == len(network.edges))
    else:
        reason, status = _derive_reasons(network, prof), "off"
    usable = reason == 0
    edges = network.edges[usable].reset_index(drop=True)
    filtered = WalkNetwork(nodes=network.nodes, edges=edges, crs=network.crs,
                           info={**network.info, "profile": prof.name,
                                 "edges": int(usable.sum())})
    unknown = edge_reasons(network.edges[usable], prof)[1]  # kept, yet tagged "up" or so
    counts = np.bincount(reason, minlength=len(EDGE_REASONS))
    removed = {EDGE_REASONS[k]: int(counts[k]) for k in range(1, len(EDGE_REASONS))}
    info: dict[str, Any] = {
        "profile": prof.name,
        "filter": prof.describe(),
        "edges": len(network.edges),
        "edges_usable": int(usable.sum()),
        "edges_removed": removed,
        "length_km_removed": round(float(network.edge_length[~usable].sum()) / 1000.0, 3),
        "incline_unknown": unknown,
        "tags_missing": _tags_missing(network, prof),
        "cache": status,
    }
    logger.info("Profile %s: %s of %s edges usable (%s)", prof.name,
                f"{info['edges_usable']:,}", f"{info['edges']:,}", ", ".join(
                    f"{k} {v:,}" for k, v in removed.items() if v) or "none removed")
    return ProfileNetwork(profile=prof, base=network, network=filtered, edge_reason=reason,
                          info=info)


def _tags_missing(network: WalkNetwork, profile: Profile) -> list[str]:
    """Return the tags `profile` reads that no edge of `network` carries (unseen by its filter).

    ``wheelchair`` for a profile that leaves out ``wheelchair=no``, ``incline`` for one
    with a slope limit: a network read from a file without them (many GraphML extracts)
    leaves those rules nothing to act on, which the study says (a warning check).
    """
    wanted = ([] if profile.wheelchair_no else ["wheelchair"]) + (
        [] if profile.max_incline_pct is None else ["incline"])
    edges = network.edges
    return [t for t in wanted
            if t not in edges or not (edges[t].fillna("").astype(str) != "").any()]


# ---------------------------------------------------------------------------- points


def _placement(snaps: pd.DataFrame, pnet: ProfileNetwork
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int8]]:
    """Where each snapped point stands on the profile's network, or why it cannot.

    Returns, per point, its edge in ``pnet.network`` (-1: none), its position along
    that edge, and the code of the reason it is cut off (0: it is not, or it is off
    the network for everyone). A point snapped to an end of a left-out edge stands
    on that end's node, so it keeps any usable edge there (its position moves to
    that edge's end); only a point *along* a left-out street is cut off.
    """
    base = pnet.base
    edge = snaps["edge"].to_numpy(np.int64)
    pos = snaps["position_m"].to_numpy(np.float64).copy()
    on = snaps["on_network"].to_numpy(bool) & (edge >= 0)
    code = np.zeros(len(snaps), dtype=np.int8)
    code[on] = pnet.edge_reason[edge[on]]
    new = np.full(len(edge), -1, dtype=np.int64)
    new[on] = pnet.edge_map[edge[on]]
    lost = np.flatnonzero(code > 0)
    if len(lost):
        length = base.edge_length[edge[lost]]
        at_u, at_v = pos[lost] <= 0.0, pos[lost] >= length
        ptr, node_edge, node_end = base.node_edges
        usable = pnet.edge_reason == 0
        for k in np.flatnonzero(at_u | at_v):
            i = lost[k]
            node = base.edge_u[edge[i]] if at_u[k] else base.edge_v[edge[i]]
            here = np.arange(ptr[node], ptr[node + 1])
            ok = here[usable[node_edge[here]]]
            if len(ok):
                e = node_edge[ok[0]]
                new[i], code[i] = pnet.edge_map[e], 0
                pos[i] = 0.0 if node_end[ok[0]] == 0 else base.edge_length[e]
    return new, pos, code


def cut_off_points(snaps: pd.DataFrame, pnet: ProfileNetwork) -> pd.Series:
    """Say which snapped points a profile cannot use, and why.

    Parameters
    ----------
    snaps
        :func:`sharemap.access.snap_points` on the full network (``pnet.base``).
    pnet
        The profile's network.

    Returns
    -------
    reason
        Aligned to `snaps`: ``""`` for a point the profile reaches (or one off the
        network for everyone), else the reason the street it joins along is left
        out (``steps``, ``wheelchair_no``, ``incline``, ``disconnected``). A point
        at a street's end node is not cut off while a usable street meets there.
    """
    _, _, code = _placement(snaps, pnet)
    return pd.Series(np.asarray(EDGE_REASONS, dtype=object)[code], index=snaps.index,
                     name="cut_off")


def _on_profile(snaps: pd.DataFrame, pnet: ProfileNetwork) -> pd.DataFrame:
    """`snaps` re-pointed at the profile network's edges; cut-off points are off it."""
    new, pos, _ = _placement(snaps, pnet)
    keep = new >= 0
    length = np.where(keep, pnet.network.edge_length[np.maximum(new, 0)], np.nan)
    offset = snaps["offset_m"].to_numpy(np.float64)
    out = snaps.copy()
    out["edge"] = new
    out["position_m"] = np.where(keep, pos, np.nan)
    out["dist_u_m"] = np.where(keep, pos + offset, np.nan)
    out["dist_v_m"] = np.where(keep, (length - pos) + offset, np.nan)
    out["on_network"] = keep
    return out


def profile_points(points: PreparedPoints, pnet: ProfileNetwork) -> PreparedPoints:
    """Put prepared points on a profile's network (nothing is snapped again).

    Parameters
    ----------
    points
        Origins and targets prepared on ``pnet.base`` (:func:`sharemap.prepare_points`).
    pnet
        The profile's network (:func:`profile_network`).

    Returns
    -------
    points
        The same origins and targets joined into ``pnet.network`` at the same places;
        a point whose street the profile leaves out (:func:`cut_off_points`) is
        listed as off the network and reaches nothing. Every measure that takes
        prepared points (walk times, pairs, counts) then measures for the profile.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sharemap.access import prepare_points, walk_times
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> spaces = gpd.GeoDataFrame({"category": ["bike"]},
    ...                           geometry=[net.nodes.geometry.iloc[9]], crs=net.crs)
    >>> origins = net.nodes.geometry.iloc[:3]
    >>> pts = prepare_points(net, origins, spaces)
    >>> chair = profile_points(pts, profile_network(net, "wheelchair", cache=False))
    >>> walk_times(chair, origins, spaces).equals(walk_times(pts, origins, spaces))  # no steps
    True
    """
    if points.network is not pnet.base:
        msg = "the points were prepared on another network than the profile's base network"
        raise ValueError(msg)
    so = _on_profile(points.origin_snaps, pnet)
    st = _on_profile(points.target_snaps, pnet)
    joined = replace(join_points(pnet.network, pd.concat([so, st], ignore_index=True),
                                 cache=points.joined.cache), searches=points.joined.searches)
    return PreparedPoints(network=pnet.network, joined=joined, origin_snaps=so,
                          target_snaps=st, max_snap_m=points.max_snap_m)


# ---------------------------------------------------------------------------- groups


def group_walk_col(category: str, slug: str) -> str:
    """Return the block column of a group's own walk minutes to `category`.

    ``walk_min_<category>_<slug>`` (e.g. ``walk_min_bike_wheelchair``); only groups
    whose profile leaves streets out have one (see :func:`group_minutes`).
    """
    return f"{walk_col(category)}_{slug}"


def at_group_speed(minutes: Any, group: GroupConfig, *, walk_speed_kmh: float) -> Any:
    """Return everyone's walk minutes as `group` takes them on the same streets at its speed.

    ``minutes * walk_speed_kmh / group.walk_speed_kmh``, in that order (an array, a
    Series or a number). Every figure of a group on the ``walk`` profile scales with
    this one expression (coverage_groups.csv, its gaps, suggest's weights, a what-if),
    so a walk that lands exactly on a threshold counts the same in all of them:
    ``minutes * (walk_speed_kmh / group speed)`` can round the other way.

    Examples
    --------
    >>> from sharemap.config import GroupConfig
    >>> old = GroupConfig(column="old", label="65+", walk_speed_kmh=3.2)
    >>> at_group_speed(5.0, old, walk_speed_kmh=4.8)  # 5 min at 4.8 km/h is 7.5 at 3.2
    7.5
    >>> 5.0 * (4.8 / 3.2)  # the other order: just inside a 7.5-minute threshold
    7.499999999999999
    """
    return minutes * walk_speed_kmh / group.walk_speed_kmh


def group_minutes(blocks: pd.DataFrame, category: str, group: GroupConfig, *,
                  walk_speed_kmh: float) -> pd.Series:
    """Return a group's walk minutes from every block to the nearest space of `category`.

    Parameters
    ----------
    blocks
        Blocks with ``walk_min_<category>`` (and, for a group whose profile leaves
        streets out, its own ``walk_min_<category>_<slug>``, which
        :func:`sharemap.run_study` fills).
    category
        The category.
    group
        The population group (``profile``, ``walk_speed_kmh``, ``slug``).
    walk_speed_kmh
        The study's speed, at which ``walk_min_<category>`` was computed.

    Returns
    -------
    minutes
        Aligned to `blocks`; NaN where nothing is reachable. A ``walk`` group walks
        the same streets as everyone, so its minutes are exactly
        ``walk_min * walk_speed_kmh / group speed``; another profile's are its own
        column (its distances differ).

    Raises
    ------
    InputDataError
        When a filtering profile's column is missing.
    """
    if not get_profile(group.profile).filters:
        return at_group_speed(blocks[walk_col(category)], group, walk_speed_kmh=walk_speed_kmh)
    col = group_walk_col(category, group.slug)
    if col not in blocks:
        msg = (f"blocks have no column {col!r}: group {group.label!r} walks with the "
               f"{group.profile!r} profile, whose walks run_study computes on its own "
               "network (sharemap.profiles.profile_points)")
        raise InputDataError(msg)
    return blocks[col]
