"""Compact, fast data layers for the Folium map (private; used by :mod:`sharemap.maps`).

A city has about 100,000 blocks: plain GeoJSON with a pre-rendered popup per block
makes a 60 MB page that takes seconds to write. Here a layer is encoded column-wise:

- geometry: every coordinate in WGS84 rounded to 6 decimals (about 0.1 m) as integer
  micro-degrees, written as differences from the previous vertex in one flat list
  (``x``), with vertex counts per ring (``r``, closing vertex omitted), ring counts per
  polygon (``p``) and polygon counts per feature (``f``; null when all are 1);
- properties: one JSON list per column (``c``); text columns with few distinct values
  are written once as a dictionary (``{"d": values, "i": codes}``), lists of ids as
  ``{"d": ids, "l": [codes]}``;
- a spec (``s``) saying how the browser builds each feature's style, popup table,
  title and tooltip from its properties.

Every text is HTML-escaped (:func:`~sharemap._mapstyle.escape_text`) before it is
encoded, and the JSON is written with ``<``, ``>``, ``&`` and ``'`` as unicode escapes, so
it is inert inside the page's ``<script>``. The encoded layer is placed into the page
*after* folium's templates have run (:class:`DataLayer`), so jinja never parses it.
In the browser, :data:`MAP_JS` decodes a layer into ordinary GeoJSON features (with
ordinary ``properties``) and hands them to ``L.geoJson``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from pyproj import CRS, Transformer

from ._crs import WEB_CRS
from ._mapstyle import _int_text, escape_text, polygon_rings

__all__ = ["COORD_DECIMALS", "MAP_JS", "RESERVED_PROPERTIES", "DataLayer", "EncodedGeometry",
           "bool_column", "decode_layer", "encode_geometry", "id_list_column", "json_list",
           "layer_json", "number_column", "text_column"]

logger = logging.getLogger("sharemap.maps")

#: Property names the browser side gives a meaning (title, tooltips, colour class).
RESERVED_PROPERTIES = ("t", "tip", "label", "class")
#: Decimal places kept in WGS84 coordinates (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
_SCALE = 10 ** COORD_DECIMALS

# Decodes a layer (see the module docstring) and binds styles, popups and tooltips.
# Wrapped in {% raw %}: branca parses header elements as jinja templates.
MAP_JS = """{% raw %}<script>
var sharemap = (function () {
    var S = 1e6;
    function thousands(v) {
        return String(Math.round(v)).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ",");
    }
    function none(v) { return v === null || v === undefined || v === ""; }
    var FORMAT = {
        t: function (v) { return none(v) ? "" : String(v); },
        i0: function (v) { return none(v) ? "" : String(Math.round(v)); },
        n0: function (v) { return none(v) ? "" : thousands(v); },
        f2: function (v) { return none(v) ? "" : Number(v).toFixed(2); },
        ha: function (v) { return none(v) ? "" : (v / 10000).toFixed(2) + " ha"; },
        m: function (v) { return none(v) ? "" : Number(v).toFixed(0) + " m"; },
        min: function (v) { return none(v) ? "unreachable" : Number(v).toFixed(1) + " min"; },
        yn: function (v) { return none(v) ? "" : (v ? "yes" : "no"); },
        list: function (v) { return none(v) ? "" : String(v).replace(/,/g, ", "); },
        adj: function (v, w) {
            if (none(v)) { return ""; }
            return none(w) ? String(v) : v + " (" + w + " categories)";
        }
    };
    function column(c, i) {
        if (Array.isArray(c)) { return c[i]; }
        if (c.l) {
            return c.l[i] === null ? null : c.l[i].map(function (k) { return c.d[k]; }).join(",");
        }
        return c.i[i] === null ? null : c.d[c.i[i]];
    }
    function decode(d) {
        var feats = [], g = d.x, names = Object.keys(d.c);
        var x = 0, y = 0, k = 0, ri = 0, pi = 0, i, j, a, b, v;
        for (i = 0; i < d.n; i++) {
            var geom;
            if (d.k === "point") {
                x += g[k++]; y += g[k++];
                geom = {type: "Point", coordinates: [x / S, y / S]};
            } else {
                var polys = [], nparts = d.f ? d.f[i] : 1;
                for (a = 0; a < nparts; a++) {
                    var rings = [], nrings = d.p ? d.p[pi++] : 1;
                    for (b = 0; b < nrings; b++) {
                        var ring = [], nv = d.r[ri++];
                        for (v = 0; v < nv; v++) {
                            x += g[k++]; y += g[k++];
                            ring.push([x / S, y / S]);
                        }
                        ring.push(ring[0].slice());
                        rings.push(ring);
                    }
                    polys.push(rings);
                }
                geom = polys.length === 1 ? {type: "Polygon", coordinates: polys[0]}
                                          : {type: "MultiPolygon", coordinates: polys};
            }
            var props = {};
            for (j = 0; j < names.length; j++) { props[names[j]] = column(d.c[names[j]], i); }
            feats.push({type: "Feature", geometry: geom, properties: props});
        }
        return {type: "FeatureCollection", features: feats};
    }
    function table(title, rows, p) {
        var html = "";
        for (var i = 0; i < rows.length; i++) {
            var r = rows[i], value = FORMAT[r[1]](p[r[2]], r[3] ? p[r[3]] : null);
            if (value !== "") { html += "<tr><th>" + r[0] + "</th><td>" + value + "</td></tr>"; }
        }
        return "<b>" + title + "</b><table class='sharemap-popup'>" + html + "</table>";
    }
    function title(s, p) {
        if (!s.title) { return ""; }
        var v = FORMAT.t(p[s.title[1]]);
        return (v === "" && s.title[2]) ? s.title[2] : s.title[0] + v;
    }
    function style(s, p) {
        var out = {};
        if (s.pal) {
            var c = s.pal[p[s.by]];
            if (c !== undefined) { s.keys.forEach(function (key) { out[key] = c; }); }
        }
        if (s.flag && p[s.flag]) { Object.assign(out, s.flagStyle); }
        return out;
    }
    function bind(s, f, layer) {
        var p = f.properties;
        if (s.title) { p.t = title(s, p); }
        if (s.rows) {
            layer.bindPopup(function () { return table(p.t, s.rows, p); }, {maxWidth: 360});
        }
        if (p.label) {
            layer.bindTooltip(String(p.label), {permanent: true, direction: "center",
                                                className: "sharemap-label"});
        } else if (p.tip) {
            layer.bindTooltip(String(p.tip), {sticky: true});
        }
    }
    function fill(layer, d) {
        var s = d.s || {};
        if (d.k === "point") {
            var icon = L.divIcon({html: s.icon || "", iconSize: [20, 20], iconAnchor: [10, 10],
                                  className: "sharemap-space"});
            layer.options.pointToLayer = function (f, latlng) {
                return L.marker(latlng, {icon: icon});
            };
        } else {
            layer.options.style = function (f) { return style(s, f.properties); };
        }
        layer.options.onEachFeature = function (f, l) { bind(s, f, l); };
        layer.addData(decode(d));
        return layer;
    }
    return {fill: fill, decode: decode, table: table};
})();
</script>{% endraw %}"""


def _json(obj: Any) -> str:
    """JSON text that is inert inside an HTML ``<script>`` (as jinja's ``tojson``)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def json_list(texts: Sequence[str | None]) -> str:
    """Return a column of texts that are already escaped (or None) as JSON."""
    return _json(list(texts))


def _ints(values: np.ndarray) -> str:
    """Return integers as a JSON list."""
    return json.dumps(values.tolist(), separators=(",", ":"))


def _counts(values: np.ndarray) -> str:
    """Return counts as a JSON list, or null when every count is 1 (the common case)."""
    return "null" if (values == 1).all() else _ints(values)


class EncodedGeometry:
    """A layer's geometry as compact JSON parts, and which input rows it kept.

    Attributes
    ----------
    kind
        ``"polygon"`` or ``"point"``.
    parts
        JSON text of the ``x``, ``r``, ``p`` and ``f`` members (see the module docstring).
    keep
        Boolean mask of the input rows that have a geometry of that kind.
    bounds
        (west, south, east, north) in degrees, or None when nothing is kept.
    """

    def __init__(self, kind: str, parts: dict[str, str], keep: np.ndarray,
                 bounds: tuple[float, float, float, float] | None) -> None:
        self.kind = kind
        self.parts = parts
        self.keep = keep
        self.bounds = bounds


def _deltas(coords: np.ndarray, crs: Any) -> tuple[str, tuple[float, float, float, float] | None]:
    """Coordinates (m x 2, in `crs`) as WGS84 micro-degree differences, and their bounds."""
    if not len(coords):
        return "[]", None
    source = CRS.from_user_input(crs)
    if not source.equals(WEB_CRS):
        lon, lat = Transformer.from_crs(source, WEB_CRS, always_xy=True).transform(
            coords[:, 0], coords[:, 1])
        coords = np.column_stack([lon, lat])
    ints = np.rint(coords * _SCALE).astype(np.int64)
    deltas = np.empty_like(ints)
    deltas[0] = ints[0]
    np.subtract(ints[1:], ints[:-1], out=deltas[1:])
    lo, hi = ints.min(axis=0) / _SCALE, ints.max(axis=0) / _SCALE
    return _ints(deltas.ravel()), (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def encode_geometry(geoms: np.ndarray, *, kind: str, crs: Any = WEB_CRS) -> EncodedGeometry:
    """Encode geometries as WGS84 polygons (and multipolygons) or points.

    Parameters
    ----------
    geoms
        Shapely geometries in `crs`.
    kind
        ``"polygon"``: the polygon parts of each geometry are kept (rings with fewer
        than 4 coordinates dropped); ``"point"``: points are kept.
    crs
        The CRS of `geoms`; coordinates are transformed to EPSG:4326 (longitude, latitude).

    Returns
    -------
    encoded
        The JSON parts, the mask of rows kept and the bounds.
    """
    geoms = np.asarray(geoms, dtype=object)
    if kind == "point":
        keep = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
        text, bounds = _deltas(shapely.get_coordinates(geoms[keep]), crs)
        return EncodedGeometry(kind, {"x": text}, keep, bounds)
    rings = polygon_rings(geoms)
    closing = np.cumsum(rings.sizes) - 1  # GeoJSON repeats the first vertex: not stored
    body = np.ones(len(rings.vertices), dtype=bool)
    body[closing] = False
    text, bounds = _deltas(rings.vertices[body], crs)
    part_row = rings.row[rings.exterior]
    per_feature = np.bincount(part_row, minlength=len(geoms))
    keep = per_feature > 0
    out = {"x": text, "r": _ints(rings.sizes - 1),
           "p": _counts(np.bincount(np.cumsum(rings.exterior) - 1, minlength=len(part_row))),
           "f": _counts(per_feature[keep])}
    return EncodedGeometry(kind, out, keep, bounds)


# ---------------------------------------------------------------------------
# property columns (JSON text)


def text_column(values: Sequence[Any] | pd.Series) -> str:
    """Escaped text (whole floats without ".0"); a dictionary when values repeat."""
    series = pd.Series(values, dtype=object).reset_index(drop=True)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [escape_text(_int_text(u)) for u in uniques]
    if len(uniques) * 2 <= len(series):
        return _json({"d": texts, "i": [None if c < 0 else int(c) for c in codes.tolist()]})
    return _json([None if c < 0 else texts[c] for c in codes.tolist()])


def number_column(values: Sequence[Any] | pd.Series, decimals: int | None = None) -> str:
    """Numbers rounded to `decimals` (whole numbers written as integers; missing -> null)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
            series.dtype):
        series = pd.to_numeric(series.astype(object), errors="coerce")
    arr = series.to_numpy(dtype=float, na_value=np.nan)
    if decimals is not None:
        arr = np.round(arr, decimals)
    finite = np.isfinite(arr)
    whole = finite & (np.abs(np.where(finite, arr, 0)) < 2 ** 53)
    whole[whole] = arr[whole] == np.floor(arr[whole])
    if whole.all():
        return _ints(arr.astype(np.int64))
    out = arr.astype(object)
    out[~finite] = None
    if whole.any():
        out[whole] = np.asarray(arr[whole].astype(np.int64).tolist(), dtype=object)
    return _json(out.tolist())


def bool_column(values: Sequence[Any] | pd.Series) -> str:
    """Booleans (missing -> false)."""
    series = pd.Series(values, dtype=object)
    return _json([bool(v) for v in series.where(series.notna(), False).tolist()])


def id_list_column(values: Sequence[Any] | pd.Series) -> str:
    """Comma-separated id lists, each id escaped and written once (``{"d", "l"}``)."""
    codes: dict[str, int] = {}
    lists: list[list[int] | None] = []
    for value in pd.Series(values, dtype=object).tolist():
        missing = value is None or value is pd.NA or (isinstance(value, float)
                                                      and math.isnan(value))
        text = "" if missing else str(value)
        lists.append([codes.setdefault(part.strip(), len(codes)) for part in text.split(",")]
                     if text else None)
    return _json({"d": [escape_text(u) for u in codes], "l": lists})


def layer_json(geometry: EncodedGeometry, columns: dict[str, str], spec: dict[str, Any]) -> str:
    """Return the whole encoded layer as a JavaScript object literal (valid JSON)."""
    n = int(geometry.keep.sum())
    cols = ",".join(f"{_json(name)}:{text}" for name, text in columns.items())
    geom = ",".join(f'"{key}":{text}' for key, text in geometry.parts.items())
    return (f'{{"k":"{geometry.kind}","n":{n},{geom},"c":{{{cols}}},'
            f'"s":{_json(spec)}}}')


# ---------------------------------------------------------------------------
# the folium layer


class _RawScript(Element):
    """A script part that is written as it is (never parsed as a jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class DataLayer(folium.GeoJson):
    """A ``L.geoJson`` layer filled in the browser from an encoded layer (see module doc).

    It is an ordinary :class:`folium.GeoJson` for folium (it can be added to any map
    or feature group, saved, or shown in a notebook); its ``data`` attribute gives the
    features as a GeoJSON FeatureCollection (decoded on first use).

    Parameters
    ----------
    encoded
        The layer from :func:`layer_json`.
    **options
        Leaflet path options (``pane``, ``color``, ``weight``, ``fill_opacity``, ...).
    """

    _template = folium.template.Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {{ this.options|tojavascript }});
        sharemap.fill({{ this.get_name() }}, {{ this.token }});
        {% endmacro %}
    """)

    def __init__(self, encoded: str, **options: Any) -> None:
        self.encoded = encoded
        self._decoded: dict[str, Any] | None = None
        super().__init__({"type": "FeatureCollection", "features": []}, control=False,
                         **options)
        self._name = "SharemapLayer"
        self.token = f"__sharemap_layer_{self._id}__"

    @property
    def data(self) -> dict[str, Any]:
        """The layer's features as a GeoJSON FeatureCollection (as the browser sees them)."""
        if self._decoded is None:
            self._decoded = decode_layer(json.loads(self.encoded))
        return self._decoded

    @data.setter
    def data(self, value: dict[str, Any]) -> None:  # folium's __init__ sets a placeholder
        self._decoded = None

    def render(self, **kwargs: Any) -> None:
        """Render as folium does, then put the encoded layer in place of its token."""
        super().render(**kwargs)
        script = self.get_root().script
        name = self.get_name()
        small = script._children[name]
        script._children[name] = _RawScript(small.render().replace(self.token, self.encoded))


def _column(col: Any, i: int) -> Any:
    if isinstance(col, list):
        return col[i]
    if "l" in col:
        ids = col["l"][i]
        return None if ids is None else ",".join(col["d"][k] for k in ids)
    code = col["i"][i]
    return None if code is None else col["d"][code]


def decode_layer(obj: dict[str, Any]) -> dict[str, Any]:
    """Decode an encoded layer into a GeoJSON FeatureCollection (as :data:`MAP_JS` does)."""
    flat = obj["x"]
    names = list(obj["c"])
    x = y = k = ri = pi = 0
    features = []
    for i in range(obj["n"]):
        if obj["k"] == "point":
            x, y, k = x + flat[k], y + flat[k + 1], k + 2
            geom: dict[str, Any] = {"type": "Point", "coordinates": [x / _SCALE, y / _SCALE]}
        else:
            polys = []
            for _ in range(obj["f"][i] if obj["f"] else 1):
                rings = []
                for _ in range(obj["p"][pi] if obj["p"] else 1):
                    ring = []
                    for _ in range(obj["r"][ri]):
                        x, y, k = x + flat[k], y + flat[k + 1], k + 2
                        ring.append([x / _SCALE, y / _SCALE])
                    rings.append([*ring, list(ring[0])])
                    ri += 1
                polys.append(rings)
                pi += 1
            geom = ({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1
                    else {"type": "MultiPolygon", "coordinates": polys})
        props = {name: _column(obj["c"][name], i) for name in names}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}
