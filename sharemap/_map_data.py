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
In the browser, :data:`MAP_JS` makes the Leaflet polygons and markers straight from
the encoded layer and adds them to an ``L.geoJson`` layer; each has an ordinary GeoJSON
``feature`` whose ``properties`` and ``geometry`` are made when first read (a city has
100,000 blocks and most are never clicked).

Large maps (see :data:`sharemap.maps.CANVAS_THRESHOLD`) give the blocks and boundary
layers the option ``sharemapCanvas``: their features are drawn on one ``<canvas>`` in
that pane, which takes the mouse and finds the feature under it (Leaflet's canvas
renderer), instead of one SVG path each. The layers sharing it keep their pane order
when the layer control hides and shows them again.
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
from ._mapstyle import escape_text, int_text, polygon_rings

__all__ = ["COORD_DECIMALS", "MAP_JS", "RESERVED_PROPERTIES", "DataLayer", "EncodedGeometry",
           "bool_column", "decode_layer", "encode_geometry", "id_list_column", "json_list",
           "layer_json", "number_column", "text_column"]

logger = logging.getLogger("sharemap.maps")

#: Property names the browser side gives a meaning (title, tooltips, colour class).
RESERVED_PROPERTIES = ("t", "tip", "label", "class")
#: Decimal places kept in WGS84 coordinates (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
_SCALE = 10 ** COORD_DECIMALS

# Builds a layer's Leaflet features from the encoded layer (see the module docstring):
# styles, popups and tooltips come from the properties. Each feature's ``feature`` has
# ordinary GeoJSON ``properties`` and ``geometry``, built when first read (a city has
# 100,000 blocks: most are never clicked). Wrapped in {% raw %}: branca parses header
# elements as jinja templates.
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
    function properties(d, i) {
        var p = {}, names = Object.keys(d.c);
        for (var j = 0; j < names.length; j++) { p[names[j]] = column(d.c[names[j]], i); }
        if (d.s && d.s.title) { p.t = title(d.s, p); }
        return p;
    }
    function geometry(l) {
        if (l.getLatLng) {
            return {type: "Point", coordinates: L.GeoJSON.latLngToCoords(l.getLatLng(), false)};
        }
        var ll = l.getLatLngs(), multi = !L.LineUtil.isFlat(ll[0]);
        return {type: multi ? "MultiPolygon" : "Polygon",
                coordinates: L.GeoJSON.latLngsToCoords(ll, multi ? 2 : 1, true, false)};
    }
    // A GeoJSON feature whose properties and geometry are made when first read.
    function Feature(d, i, l) { this._d = d; this._i = i; this._l = l; this._p = null; }
    Feature.prototype.type = "Feature";
    Object.defineProperty(Feature.prototype, "properties", {enumerable: true, get: function () {
        return this._p || (this._p = properties(this._d, this._i));
    }});
    Object.defineProperty(Feature.prototype, "geometry", {get: function () {
        return geometry(this._l);
    }});
    function style(s, cls, flagged) {
        var out = {}, c = s.pal ? s.pal[cls] : undefined;
        if (c !== undefined) { s.keys.forEach(function (key) { out[key] = c; }); }
        if (flagged) { L.extend(out, s.flagStyle); }
        return out;
    }
    // One canvas per pane, shared by the layers drawn in it (one map per page).
    var canvases = {};
    function zIndex(layer) {
        var pane = layer._map && layer._map.getPane(layer.options.pane);
        return pane ? Number(pane.style.zIndex) || 0 : 0;
    }
    function canvas(name) {
        if (!canvases[name]) {
            var r = canvases[name] = L.canvas({pane: name});
            r.sharemapLayers = [];
            // the pane lets the mouse through; the canvas finds the feature under it
            r.on("add", function () { r._container.style.pointerEvents = "auto"; });
        }
        return canvases[name];
    }
    function onCanvasAdd() {
        // a layer shown again is drawn last: the layers of higher panes go back on top
        var me = this, z = zIndex(me), r = me.options.renderer;
        r.sharemapLayers.filter(function (o) { return o !== me && o._map && zIndex(o) > z; })
            .sort(function (a, b) { return zIndex(a) - zIndex(b); })
            .forEach(function (o) { o.bringToFront(); });
    }
    // A marker placed with a 2D transform: Leaflet's 3D one makes each of a city's
    // thousands of markers a compositor layer, which takes seconds to draw.
    // (Made on first use: this script runs before Leaflet's.)
    var Dot = null;
    function dot(latlng, icon) {
        Dot = Dot || L.Marker.extend({
            _setPos: function (pos) {
                L.Marker.prototype._setPos.call(this, pos);
                if (this._icon && L.Browser.any3d) {
                    this._icon.style[L.DomUtil.TRANSFORM] = "translate(" + pos.x + "px," +
                                                            pos.y + "px)";
                }
            }
        });
        return new Dot(latlng, {icon: icon});
    }
    function rings(d, at, nrings) {
        var out = [], g = d.x, k = at.k, x = at.x, y = at.y;
        for (var b = 0; b < nrings; b++) {
            var nv = d.r[at.r++], ring = new Array(nv);
            for (var v = 0; v < nv; v++) {
                x += g[k++]; y += g[k++];
                ring[v] = new L.LatLng(y / S, x / S);
            }
            out.push(ring);
        }
        at.k = k; at.x = x; at.y = y;
        return out;
    }
    function fill(layer, d) {
        var s = d.s || {}, o = layer.options, c = d.c, i, a, l;
        if (o.sharemapCanvas) {
            o.renderer = canvas(o.sharemapCanvas);
            o.renderer.sharemapLayers.push(layer);
            layer.on("add", onCanvasAdd);
        }
        o.style = function (f) {
            return style(s, f.properties[s.by], s.flag && f.properties[s.flag]);
        };
        var icon = d.k === "point" && L.divIcon({html: s.icon || "", iconSize: [20, 20],
                                                 iconAnchor: [10, 10],
                                                 className: "sharemap-space"});
        var styles = {}, at = {k: 0, x: 0, y: 0, r: 0}, pi = 0;
        var popup = s.rows && function (f) {
            var p = f.feature.properties;
            return table(p.t, s.rows, p);
        };
        var popupOptions = {maxWidth: 360};
        var by = s.pal && c[s.by], flag = s.flag && c[s.flag];
        for (i = 0; i < d.n; i++) {
            if (icon) {
                at.x += d.x[at.k++]; at.y += d.x[at.k++];
                l = dot(new L.LatLng(at.y / S, at.x / S), icon);
            } else {
                var polys = [], nparts = d.f ? d.f[i] : 1;
                for (a = 0; a < nparts; a++) { polys.push(rings(d, at, d.p ? d.p[pi++] : 1)); }
                var cls = by ? column(by, i) : null, flagged = flag ? !!column(flag, i) : false;
                var key = cls + (flagged ? "*" : "");
                var opts = styles[key] || (styles[key] = L.extend({}, o, style(s, cls, flagged)));
                l = new L.Polygon(polys.length === 1 ? polys[0] : polys, opts);
            }
            l.feature = new Feature(d, i, l);
            l.defaultOptions = l.options;
            if (popup) { l.bindPopup(popup, popupOptions); }
            var label = c.label && column(c.label, i), tip = c.tip && column(c.tip, i);
            if (label) {
                l.bindTooltip(String(label), {permanent: true, direction: "center",
                                              className: "sharemap-label"});
            } else if (tip) {
                l.bindTooltip(String(tip), {sticky: true});
            }
            layer.addLayer(l);
        }
        return layer;
    }
    return {fill: fill, table: table, canvas: canvas};
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
    texts = [escape_text(int_text(u)) for u in uniques]
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
        Leaflet path options (``pane``, ``color``, ``weight``, ``fill_opacity``, ...);
        ``sharemap_canvas=<pane>`` draws the layer on the canvas shared in that pane.
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

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # as folium's
        """Render as folium does, then put the encoded layer in place of its token."""
        super().render(**kwargs)  # type: ignore[no-untyped-call]  # folium's is untyped
        root: Any = self.get_root()  # the Figure: typed as a plain Element
        script = root.script
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
    """Decode an encoded layer into a GeoJSON FeatureCollection (the page's features)."""
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
