"""Boundary units' geometry: repaired or reported, never silently lost.

A boundary file (gu, dong, census areas) is read unit by unit; a unit whose geometry
cannot hold blocks would silently vanish from population and coverage. Instead:

- a unit without a geometry (``"geometry": null``, or empty) is ``missing_geometry``;
- a unit that is not a polygon (a point, a line) is ``not_a_polygon``;
- an invalid polygon (self-intersecting, such as a bow-tie) is repaired with
  ``shapely.make_valid`` (its polygonal part kept) and named in a warning; if nothing
  polygonal is left it is ``not_a_polygon``;
- a unit lying (almost) wholly inside an earlier unit of the same level is
  ``covered_by_another_unit``: block origins go to the first unit in file order that
  contains them, so it would receive no block; it is kept (its coverage rows show no
  blocks) and its residents are counted as unallocated.

The first three are left out of the units and listed, with their residents, as
boundary rejects (``summary.json`` ``"boundary_rejects"``), whose residents count as
``population_unallocated``; the run warns about each.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

__all__ = [
    "BOUNDARY_REASONS",
    "BOUNDARY_REJECT_COLUMNS",
    "COVERED_SHARE",
    "boundary_rejects_message",
    "covered_units",
    "repair_units",
]

#: Why a unit is not used (or, for the last, receives no block).
BOUNDARY_REASONS = ("missing_geometry", "not_a_polygon", "covered_by_another_unit")
#: Columns of a boundary rejects table (``feature`` is 1-based, in file order).
BOUNDARY_REJECT_COLUMNS = ("source", "feature", "unit", "unit_id", "reason", "population",
                           "detail")
#: A unit is covered by another when at least this share of its area lies inside it.
COVERED_SHARE = 0.99
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Return the polygons of a (repaired) geometry, or None if it has none with area."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), _POLYGONAL)]
    if not len(polys):
        return None
    merged = shapely.union_all(polys) if len(polys) > 1 else polys[0]
    return merged if merged.area > 0 else None


def repair_units(geoms: npt.NDArray[np.object_]
                 ) -> tuple[npt.NDArray[np.object_], list[str | None], list[str], list[int]]:
    """Repair invalid polygons; find units that cannot be used.

    Parameters
    ----------
    geoms
        The units' geometries in file order (None where missing).

    Returns
    -------
    geoms, reasons, details, repaired
        The geometries with invalid polygons repaired (``make_valid``, polygonal part
        kept); per unit the reason it cannot be used (None: usable) and a detail in
        words; the positions of the units that were repaired.
    """
    out = np.array(geoms, dtype=object)
    n = len(out)
    reasons: list[str | None] = [None] * n
    details = [""] * n
    missing = shapely.is_missing(out)
    missing[~missing] = shapely.is_empty(out[~missing])
    for i in np.flatnonzero(missing):
        reasons[i], details[i] = "missing_geometry", "the feature has no geometry"
    kind = np.where(missing, -1, shapely.get_type_id(out))
    for i in np.flatnonzero(~missing & ~np.isin(kind, (*_POLYGONAL, 7))):
        reasons[i] = "not_a_polygon"
        details[i] = f"the feature is a {out[i].geom_type}, not a polygon"
    check = ~missing & np.isin(kind, (*_POLYGONAL, 7))
    fix = np.flatnonzero(check)[~shapely.is_valid(out[check]) | (kind[check] == 7)]
    repaired = []
    for i in fix:
        poly = _polygonal_part(shapely.make_valid(out[i]))
        if poly is None:
            reasons[i], details[i] = "not_a_polygon", "no polygon with an area is left"
            continue
        out[i] = poly
        repaired.append(int(i))
    return out, reasons, details, repaired


def covered_units(geoms: npt.NDArray[np.object_],
                  share: float = COVERED_SHARE) -> dict[int, int]:
    """Find units lying (almost) wholly inside an earlier unit.

    Parameters
    ----------
    geoms
        Valid polygons in file order.
    share
        The share of a unit's area that must lie inside the earlier unit.

    Returns
    -------
    covered
        Unit position -> position of the first earlier unit that holds `share` of it.
    """
    tree = shapely.STRtree(geoms)
    later, earlier = tree.query(geoms, predicate="intersects")
    keep = earlier < later
    later, earlier = later[keep], earlier[keep]
    area = shapely.area(geoms)
    # a cheap upper bound first: the overlap of the two bounding boxes
    b = shapely.bounds(geoms)
    w = np.minimum(b[later, 2], b[earlier, 2]) - np.maximum(b[later, 0], b[earlier, 0])
    h = np.minimum(b[later, 3], b[earlier, 3]) - np.maximum(b[later, 1], b[earlier, 1])
    maybe = (w > 0) & (h > 0) & (w * h >= share * area[later]) & (area[later] > 0)
    later, earlier = later[maybe], earlier[maybe]
    inside = shapely.area(shapely.intersection(geoms[later], geoms[earlier]))
    hit = inside >= share * area[later]
    covered: dict[int, int] = {}
    for j, i in sorted(zip(later[hit].tolist(), earlier[hit].tolist(), strict=True)):
        covered.setdefault(j, i)
    return covered


def boundary_rejects_message(rejects: pd.DataFrame, level: str) -> str:
    """One line for a warning: how many units of `level` are not used, and why."""
    shown = "; ".join(f"{r.unit} ({r.reason}: {r.detail})" for r in rejects.head(5).itertuples())
    more = f"; ... and {len(rejects) - 5} more" if len(rejects) > 5 else ""
    pop = pd.to_numeric(rejects["population"], errors="coerce").sum()
    residents = f"; {pop:,.0f} residents not placed on any block" if pop > 0 else ""
    return (f"{rejects['source'].iloc[0]}: {len(rejects)} {level} unit(s) not used: "
            f"{shown}{more}{residents} (listed in summary.json boundary_rejects)")
