"""The coverage-gap audit as one self-contained HTML page (``report.html``).

The page a district office can hand on: headline numbers, coverage by dong and
category at the audit threshold (15 minutes, or the nearest configured one) for
all residents and each population group, a chart of coverage by category and
walking time, the largest gaps with the nearest space, and small static maps.
It works offline: CSS is inline, the chart is inline SVG and the maps are PNG
data URIs drawn with matplotlib (no tiles) by the static-map code that draws
``map.png`` (:mod:`sharemap._static_map`: its fonts, colours and layers), so the
report, ``map.png`` and ``map.html`` agree. Every text taken from input files is
HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _io, _outputs, _static_map
from .access import walk_col
from .coverage import compute_audit, compute_group_coverage, finest_level
from .pipeline import RUN_OUTPUTS
from .profiles import get_profile

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .pipeline import StudyResult

__all__ = ["AUDIT_OUTPUTS", "REPORT_OUTPUT", "audit_outputs", "render_report", "write_report"]

logger = logging.getLogger(__name__)

_TOP_UNITS = 5
_TOP_BLOCKS = 5
_MAX_MAP_LABELS = 40
_ALL_COLOUR = "#111111"

_CSS = """
body { font: 15px/1.5 "Noto Sans KR", "Noto Sans CJK KR", "Malgun Gothic", "Apple SD Gothic Neo",
  system-ui, sans-serif; color: #1d1d1f; margin: 0; background: #f6f6f3; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; border-bottom: 2px solid #e4e4e0; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.lede { color: #555; margin: 0 0 12px; } .note { color: #666; font-size: 13px; }
#checks { border: 2px solid #c0392b; border-radius: 8px; background: #fdf1ef; padding: 4px 16px;
  margin: 12px 0 20px; } #checks h2 { color: #a02a1b; margin-top: 8px; }
#checks li { margin: 4px 0; } #checks code { font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; }
.card { border: 1px solid #e4e4e0; border-radius: 8px; padding: 10px 14px; background: #fbfbf9; }
.card .big { font-size: 28px; font-weight: 700; } .card .what { color: #555; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { border: 1px solid #e1e1dc; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f0f0eb; font-weight: 600; } td.name, th.name { text-align: left; }
th.cat { text-align: center; } .sep { border-left: 2px solid #999; }
figure.chart { max-width: 820px; }
tr.total td { font-weight: 700; border-bottom: 2px solid #999; }
.scroll { overflow-x: auto; } .grid2 { display: grid; gap: 18px;
  grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); }
.maps { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); }
figure { margin: 0; } figure img, figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #444; margin-top: 2px; }
.legend span.sw { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
  margin: 0 4px 0 12px; border: 1px solid #aaa; }
ul.method li { margin-bottom: 4px; } code { background: #f0f0eb; padding: 0 3px; }
@media print { body { background: #fff; } main { padding: 0; }
  .maps { grid-template-columns: 1fr 1fr; } }
"""


# ----------------------------------------------------------------------------- helpers


def _matplotlib() -> Any:
    return _static_map.import_matplotlib("writing report.html (its chart and maps)")


def _esc(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def _pct(value: Any) -> str:
    """Format a share; never round a gap away (99.96% is ">99.9%", 0.04% is "<0.1%")."""
    if value is None or pd.isna(value):
        return "–"
    v = 100 * float(value)
    if 99.95 <= v < 100:
        return ">99.9%"
    if 0 < v < 0.05:
        return "<0.1%"
    return f"{v:.1f}%"


def _int(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{round(float(value)):,}"


def _min(value: Any) -> str:
    return "unreachable" if value is None or pd.isna(value) else f"{float(value):.1f}"


def _heat(share: Any) -> str:
    """Return a background colour from red (0%) through yellow to green (100%)."""
    if share is None or pd.isna(share):
        return ""
    s = min(max(float(share), 0.0), 1.0)
    stops = ((0.0, (244, 109, 67)), (0.5, (254, 224, 139)), (1.0, (166, 217, 106)))
    (a, ca), (b, cb) = (stops[0], stops[1]) if s <= 0.5 else (stops[1], stops[2])
    f = (s - a) / (b - a)
    rgb = [round(x + (y - x) * f) for x, y in zip(ca, cb, strict=True)]
    return f' style="background:#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}"'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, head_html: str = "") -> str:
    """Return an HTML table; `head` and `rows` hold ready HTML for ``<th>`` / ``<td>`` cells."""
    top = head_html or "<tr>" + "".join(head) + "</tr>"
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead>{top}</thead><tbody>{body}</tbody></table></div>'


def _td(text: str, *, cls: str = "", style: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}{style}>{text}</td>"


def _colours(categories: Sequence[str]) -> dict[str, str]:
    """Each category's colour, as on the maps, and black for ``all``."""
    return {**_static_map.category_colours(categories), "all": _ALL_COLOUR}


def _figures() -> AbstractContextManager[str | None]:
    """Matplotlib settings for the report's figures: those of map.png (a Korean font)."""
    _matplotlib()
    return _static_map.font_context(without="Korean names are left off the report's maps",
                                    rc={"svg.hashsalt": "sharemap", "font.size": 9})


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _svg(fig: Figure, label: str) -> str:
    """Inline SVG: no XML prolog, metadata or namespace URLs; scales with the page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                             "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\sheight="[^"]*"',
                 rf'<svg\1 role="img" aria-label="{_esc(label)}"', svg, count=1)
    return svg


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class _Audit:
    """What the report shows, gathered once."""

    result: StudyResult
    minutes: float
    categories: tuple[str, ...]
    has_pop: bool
    level: str | None
    coverage: pd.DataFrame
    groups: pd.DataFrame | None
    gaps: pd.DataFrame
    colours: dict[str, str]

    @property
    def name(self) -> str:
        return self.result.config.name

    @property
    def labels(self) -> list[str]:
        """Group labels (without ``all residents``)."""
        return [g.label for g in self.result.config.coverage.groups] if self.groups is not None \
            else []

    def share(self, level: str, area_id: str, category: str, what: str = "share_population",
              group: str | None = None, minutes: float | None = None) -> Any:
        t = self.minutes if minutes is None else minutes
        if group is None:
            df = self.coverage
        elif self.groups is None:
            return np.nan
        else:
            df = self.groups[self.groups["group"] == group]
        hit = df[(df["level"] == level) & (df["area_id"].astype(str) == str(area_id))
                 & (df["category"] == category) & (df["threshold_min"] == t)]
        return hit[what].iloc[0] if len(hit) else np.nan


def _spread_words(weights: Any) -> str:
    """How the residents were spread, in words (for the method notes)."""
    if weights is None:
        return "block area"
    name = _esc(weights.path.name)
    return {
        "landuse": f"the land use of {name} (class weights; parks, campuses and water 0)",
        "osm": f"the OpenStreetMap land use of {name} (parks, campuses and water 0)",
        "raster": f"the population grid {name} (the sum of its cells over each block)",
    }.get(weights.source, f"the area of the polygons of {name} in each block")


def _gather(result: StudyResult) -> _Audit:
    cfg = result.config
    blocks = result.blocks
    has_pop = "population" in blocks and bool(blocks["population"].notna().any())
    gaps, groups = result.gaps, result.coverage_groups
    if gaps is None:  # a result made without the audit (e.g. a what-if): compute it now
        gaps = compute_audit(blocks, result.spaces, result.network, cfg,
                             points=result.prepared_points(),
                             origins=result.study_origins()).gaps
    if groups is None and cfg.coverage.groups and has_pop:
        levels = [(b.level, f"{b.level}_id") for b in cfg.coverage.boundaries]
        groups = compute_group_coverage(
            blocks, cfg.coverage.groups, categories=cfg.categories,
            thresholds=cfg.coverage.thresholds_minutes, levels=levels, city_name=cfg.name,
            walk_speed_kmh=cfg.walk_speed_kmh, origins=result.study_origins())
    return _Audit(result=result, minutes=cfg.coverage.audit_min,
                  categories=tuple(cfg.categories), has_pop=has_pop,
                  level=finest_level(blocks, [b.level for b in cfg.coverage.boundaries]),
                  coverage=result.coverage, groups=groups, gaps=gaps,
                  colours=_colours(cfg.categories))


# ----------------------------------------------------------------------------- sections


def _header(a: _Audit) -> str:
    from . import __version__

    cfg = a.result.config
    speeds = "; ".join(f"{_esc(g.label)} at {g.walk_speed_kmh:g} km/h"
                       + (f" on the streets of the {_esc(g.profile)} profile"
                          if get_profile(g.profile).filters else "")
                       for g in cfg.coverage.groups)
    groups = f" Population groups walk at their own speed ({speeds})." if speeds else ""
    at = ""
    if cfg.at:
        hours = a.result.summary.get("hours") or {}
        closed = sum(c["closed"] for c in hours.values())
        unknown = sum(c["unknown"] for c in hours.values())
        at = (f" <b>Only the spaces open at {_esc(cfg.at)}</b> are counted: {closed:,} "
              f"closed then are left out, {unknown:,} whose opening hours are unknown are "
              "counted as open.")
    return (f"<header><h1>Sharing services within a {a.minutes:g}-minute walk: "
            f"{_esc(a.name)}</h1><p class=\"lede\">Who lives within a {a.minutes:g}-minute walk "
            "of each kind of sharing service, where the gaps are, and the nearest space to "
            f"each gap. Walking on the street network at {cfg.walk_speed_kmh:g} km/h."
            f"{groups}{at}</p><p class=\"note\">sharemap {_esc(__version__)}, "
            f"{date.today().isoformat()}.</p></header>")


def _checks_section(a: _Audit) -> str:
    """Every warning of the study's checks, at the top, before any figure ('' if none)."""
    failed = a.result.warnings()
    if not failed:
        return ""
    items = "".join(f"<li><code>{_esc(c.name)}</code>: {_esc(c.message)}</li>" for c in failed)
    return (f'<section id="checks"><h2>&#9888; Read before using these figures '
            f"({len(failed)} warning{'s' if len(failed) > 1 else ''})</h2>"
            '<p>The study\'s inputs do not fully fit together; the figures below mean what '
            "these notes say (all checks: <code>summary.json</code>, <code>\"checks\"</code>)."
            f"</p><ul>{items}</ul></section>")


def _headline(a: _Audit) -> str:
    r = a.result
    city, t = "city", a.minutes
    cards = []
    if a.has_pop:
        cards.append((_int(r.blocks["population"].sum()), "residents in the study"))
    cards.append((_int(len(r.blocks)), "blocks"))
    cards.append((_int(len(r.spaces)), "sharing spaces analysed"))
    what = "share_population" if a.has_pop else "share_blocks"
    whom = "of residents" if a.has_pop else "of blocks"
    cards.append((_pct(a.share(city, a.name, "all", what)),
                  f"{whom} within {t:g} min of every category"))
    for label in a.labels:
        cards.append((_pct(a.share(city, a.name, "all", group=label)),
                      f"of residents {_esc(label)} within {t:g} min of every category "
                      "(at their speed)"))
    html_cards = "".join(f'<div class="card"><div class="big">{v}</div>'
                         f'<div class="what">{w}</div></div>' for v, w in cards)
    head = ['<th class="name">category</th>', "<th>spaces</th>"]
    if a.has_pop:
        head += [f"<th>residents within {t:g} min</th>",
                 *(f"<th>{_esc(lb)} within {t:g} min</th>" for lb in a.labels),
                 f"<th>residents beyond {t:g} min</th>"]
    head.append(f"<th>blocks within {t:g} min</th>")
    counts = r.spaces["category"].value_counts()
    rows = []
    for cat in [*a.categories, "all"]:
        row = [_td(_esc(cat) if cat != "all" else "all categories", cls="name"),
               _td(_int(counts.get(cat, 0) if cat != "all" else len(r.spaces)))]
        if a.has_pop:
            sh = a.share(city, a.name, cat)
            pop = a.share(city, a.name, cat, "population")
            cov = a.share(city, a.name, cat, "population_covered")
            row.append(_td(_pct(sh), style=_heat(sh)))
            row += [_td(_pct(g), style=_heat(g))
                    for g in (a.share(city, a.name, cat, group=lb) for lb in a.labels)]
            row.append(_td(_int(pop - cov)))
        sb = a.share(city, a.name, cat, "share_blocks")
        row.append(_td(_pct(sb), style=_heat(sb)))
        rows.append(row)
    return (f'<section id="headline"><h2>At a glance</h2><div class="cards">{html_cards}</div>'
            f"<h3>Within {t:g} minutes, by category</h3>{_table(head, rows)}</section>")


def _coverage_section(a: _Audit) -> str:
    t = a.minutes
    subs = (["residents", *a.labels] if a.has_pop else []) + ["blocks"]
    cats = [*a.categories, "all"]
    lvl_name = a.level or "area"
    top = (f'<tr><th class="name" rowspan="2">{_esc(lvl_name)}</th>'
           + ('<th rowspan="2">residents</th>' if a.has_pop else "")
           + "".join(f'<th class="cat sep" colspan="{len(subs)}">{_esc(c)}</th>' for c in cats)
           + "</tr><tr>" + "".join(f'<th{" class=sep" if i == 0 else ""}>{_esc(s)}</th>'
                                   for _ in cats for i, s in enumerate(subs)) + "</tr>")
    cov = a.coverage
    units = [("city", a.name, a.name)]
    if a.level:
        u = cov[cov["level"] == a.level][["area", "area_id"]].drop_duplicates()
        units += [(a.level, row.area, row.area_id)
                  for row in u.sort_values(["area", "area_id"]).itertuples()]
    rows = []
    for level, area, aid in units:
        row = [_td(_esc(area), cls="name")]
        if a.has_pop:
            row.append(_td(_int(a.share(level, aid, "all", "population"))))
        for cat in cats:
            vals = []
            if a.has_pop:
                vals.append(a.share(level, aid, cat))
                vals += [a.share(level, aid, cat, group=lb) for lb in a.labels]
            vals.append(a.share(level, aid, cat, "share_blocks"))
            row += [_td(_pct(v), cls="sep" if i == 0 else "", style=_heat(v))
                    for i, v in enumerate(vals)]
        rows.append(row)
    table = _table([], rows, head_html=top).replace("<tbody><tr>", '<tbody><tr class="total">',
                                                    1)
    whom = ("the share of residents (and of each group, at its own walking speed) and of "
            "blocks" if a.has_pop else "the share of blocks")
    return (f'<section id="coverage"><h2>Coverage by {_esc(lvl_name)} at {t:g} minutes</h2>'
            f'<p class="lede">For each {_esc(lvl_name)} and category, {whom} within a '
            f"{t:g}-minute walk of the nearest space. <em>all</em>: within {t:g} minutes of "
            f"every category. The first row is the whole study.</p>{table}</section>")


def _per(value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    v = float(value)
    return f"{v:.3f}" if v < 1 else f"{v:,.2f}" if v < 100 else f"{v:,.0f}"


def _supply_section(a: _Audit) -> str:
    """Capacity reachable per 1,000 residents by unit and category (``supply.csv``)."""
    table = a.result.supply
    if table is None or table.empty or not a.has_pop:
        return ""
    cfg = a.result.config
    cats = [c for c in a.categories if c in set(table["category"])]
    lvl_name = a.level or "area"
    level_rows = table[table["level"] == (a.level or "city")]
    units = [("city", a.name)] + ([] if not a.level else [
        (a.level, aid) for aid in level_rows.drop_duplicates(["area", "area_id"]).sort_values(
            ["area", "area_id"])["area_id"]])
    top = (f'<tr><th class="name" rowspan="2">{_esc(lvl_name)}</th>'
           '<th rowspan="2">residents</th>'
           + "".join(f'<th class="cat sep" colspan="2">{_esc(c)}</th>' for c in cats)
           + "</tr><tr>" + "".join('<th class="sep">per 1,000 residents</th><th>capacity '
                                   "here</th>" for _ in cats) + "</tr>")
    key = table.set_index([table["level"], table["area_id"].astype(str), table["category"]])
    city = {c: key.loc[("city", str(a.name), c), "supply_per_1000"] for c in cats}
    rows = []
    for level, aid in units:
        first = key.loc[(level, str(aid), cats[0])]
        row = [_td(_esc(first["area"]), cls="name"), _td(_int(first["population"]))]
        for c in cats:
            hit = key.loc[(level, str(aid), c)]
            v, ref = hit["supply_per_1000"], city[c]
            # shaded against the whole study: red none, yellow the study's value, green 2x
            ratio = v / ref / 2 if pd.notna(v) and pd.notna(ref) and ref > 0 else np.nan
            row += [_td(_per(v), cls="sep", style=_heat(ratio)), _td(_int(hit["capacity"]))]
        rows.append(row)
    html_table = _table([], rows, head_html=top).replace("<tbody><tr>",
                                                         '<tbody><tr class="total">', 1)
    bands = ", ".join(f"{w:g} up to {u:g} min" for u, w in cfg.supply.bands)
    return (f'<section id="supply"><h2>Supply per resident by {_esc(lvl_name)}</h2>'
            '<p class="lede">How much of each service residents can reach on foot, with '
            "each space's capacity (docks, bays, operators; 1 per space where a layer gives "
            "none) shared among everyone within its catchment: the capacity reachable per "
            f"1,000 residents within {cfg.supply.bands[-1][0]:g} minutes (E2SFCA, weights "
            f"{_esc(bands)}), averaged over the {_esc(lvl_name)}'s residents. "
            "<em>capacity here</em>: that of the spaces standing in the unit (residents also "
            "walk to spaces across its border). Shading compares each value with the whole "
            f"study's (first row).</p><div class=\"scroll\">{html_table}</div></section>")


def _chart_section(a: _Audit) -> str:
    with _figures():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.2, 3.8))
        ax = fig.add_subplot()
        what = "share_population" if a.has_pop else "share_blocks"
        cov = a.coverage[a.coverage["level"] == "city"]
        for cat in [*a.categories, "all"]:
            sub = cov[cov["category"] == cat].sort_values("threshold_min")
            ax.plot(sub["threshold_min"], 100 * sub[what], label=_static_map.plain(cat),
                    color=a.colours[cat], marker="o", lw=2.6 if cat == "all" else 1.6)
            for i, label in enumerate(a.labels):
                g = a.groups
                if g is None:  # labels come from the groups
                    break
                gs = g[(g["group"] == label) & (g["level"] == "city") & (g["category"] == cat)]
                gs = gs.sort_values("threshold_min")
                ax.plot(gs["threshold_min"], 100 * gs["share_population"], ls=("--", ":")[i % 2],
                        color=a.colours[cat], lw=1.2, marker=".",
                        label=_static_map.plain(f"{cat}, {label}") if cat == "all" else None)
        ax.set_xlabel("walking time (minutes)")
        ax.set_ylabel("% of residents covered" if a.has_pop else "% of blocks covered")
        ax.set_xticks(list(a.result.config.coverage.thresholds_minutes))
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
        svg = _svg(fig, "coverage by category and walking time")
    dashed = (" Dashed lines: the same for residents "
              + ", ".join(_esc(lb) for lb in a.labels) + " at their own walking speed."
              if a.labels else "")
    return ('<section id="chart"><h2>Coverage by category and walking time</h2>'
            '<figure class="chart">' + svg + "<figcaption>Share of the whole study's "
            f"{'residents' if a.has_pop else 'blocks'} within each walking time of the nearest "
            f"space of each category (black: every category).{dashed}</figcaption></figure>"
            "</section>")


def _gap_tables(a: _Audit, cat: str) -> str:
    g = a.gaps[a.gaps["category"] == cat]
    areas = g[(g["kind"] == "area")
              & (g["population_outside" if a.has_pop else "blocks_outside"] > 0)]
    areas = areas.head(_TOP_UNITS)
    blocks = g[g["kind"] == "block"].head(_TOP_BLOCKS)
    extra = [f"population_outside_{s}" for s in
             (gc.slug for gc in a.result.config.coverage.groups)] if a.labels else []
    if a.has_pop:
        head = [f'<th class="name">{_esc(a.level or "area")}</th>', "<th>residents beyond</th>",
                "<th>share</th>", *(f"<th>{_esc(lb)} beyond</th>" for lb in a.labels)]
        rows = [[_td(_esc(r["area"]), cls="name"), _td(_int(r["population_outside"])),
                 _td(_pct(r["share_outside"])), *(_td(_int(r[c])) for c in extra)]
                for _, r in areas.iterrows()]
    else:
        head = [f'<th class="name">{_esc(a.level or "area")}</th>', "<th>blocks beyond</th>",
                "<th>share</th>"]
        rows = [[_td(_esc(r["area"]), cls="name"), _td(_int(r["blocks_outside"])),
                 _td(_pct(r["share_outside"]))] for _, r in areas.iterrows()]
    bhead = ['<th class="name">block</th>', f'<th class="name">{_esc(a.level or "area")}</th>',
             *(["<th>residents</th>"] if a.has_pop else []), "<th>walk (min)</th>",
             '<th class="name">nearest space</th>']
    brows = []
    for _, r in blocks.iterrows():
        near = (f"{_esc(r['nearest_space_name'])} <span class=\"note\">"
                f"({_esc(r['nearest_space_id'])})</span>"
                if pd.notna(r["nearest_space_id"]) else "none reachable")
        brows.append([_td(_esc(r["block_id"]), cls="name"), _td(_esc(r["area"]), cls="name"),
                      *([_td(_int(r["population"]))] if a.has_pop else []),
                      _td(_min(r["walk_min"])), _td(near, cls="name")])
    n_sp = int((a.result.spaces["category"] == cat).sum())
    what = "residents" if a.has_pop else "blocks"
    block_note = ("Blocks with the most residents beyond" if a.has_pop
                  else "Blocks farthest from a space, beyond")
    return (f'<div><h3>{_esc(cat)} <span class="note">({n_sp} spaces)</span></h3>'
            + (_table(head, rows) if rows else f'<p class="note">No {what} beyond '
               f"{a.minutes:g} min.</p>")
            + (f'<p class="note">{block_note} {a.minutes:g} min:</p>'
               + _table(bhead, brows) if brows else "") + "</div>")


def _at_time_cell(table: pd.DataFrame, at: str, cat: str, col: str) -> Any:
    """`col` of `table`'s row at time `at` and category `cat` (NaN: none)."""
    hit = table[(table["at"] == at) & (table["category"] == cat)]
    return hit[col].iloc[0] if len(hit) else np.nan


def _groups_by_time_table(a: _Audit, groups_by_time: pd.DataFrame) -> str:
    """Each population group's share within the audit time at each time of week."""
    t = a.minutes
    city = groups_by_time[(groups_by_time["level"] == "city")
                          & (groups_by_time["threshold_min"] == t)]
    times = list(dict.fromkeys(groups_by_time["at"]))
    head = ['<th class="name">group</th>', '<th class="name">category</th>',
            *(f'<th class="sep">{_esc(at)}</th>' for at in times)]
    rows = []
    for (group, speed), part in city.groupby(["group", "walk_speed_kmh"], sort=False):
        for cat in [*a.categories, "all"]:
            row = [_td(f"{_esc(group)} ({speed:g} km/h)", cls="name"),
                   _td(_esc(cat) if cat != "all" else "all categories", cls="name")]
            for at in times:
                share = _at_time_cell(part, at, cat, "share_population")
                row.append(_td(_pct(share), cls="sep", style=_heat(share)))
            rows.append(row)
    return ("<h3>Each population group</h3><p class=\"note\">The share of each group's "
            f"residents within {t:g} minutes of an open space, at its own walking speed on "
            "the streets it can use. Per area and threshold: "
            "<code>coverage_groups_by_time.csv</code>.</p>" + _table(head, rows))


def _times_section(a: _Audit, by_time: pd.DataFrame,
                   groups_by_time: pd.DataFrame | None = None) -> str:
    """Coverage at several times of week (only the spaces open then): tables and a chart."""
    t = a.minutes
    what = "share_population" if a.has_pop else "share_blocks"
    city = by_time[(by_time["level"] == "city") & (by_time["threshold_min"] == t)]
    times = list(dict.fromkeys(by_time["at"]))
    cats = [*a.categories, "all"]

    def cell(at: str, cat: str, col: str) -> Any:
        return _at_time_cell(city, at, cat, col)

    head = ['<th class="name">category</th>',
            *(f'<th class="sep">{_esc(at)}</th><th>spaces open / closed / unknown</th>'
              for at in times)]
    rows = []
    for cat in cats:
        row = [_td(_esc(cat) if cat != "all" else "all categories", cls="name")]
        for at in times:
            share = cell(at, cat, what)
            row.append(_td(_pct(share), cls="sep", style=_heat(share)))
            row.append(_td(" / ".join(_int(cell(at, cat, f"spaces_{s}"))
                                      for s in ("open", "closed", "unknown"))))
        rows.append(row)
    with _figures():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.2, 3.6))
        ax = fig.add_subplot()
        width = 0.8 / len(cats)
        for k, cat in enumerate(cats):
            xs = np.arange(len(times)) + (k - (len(cats) - 1) / 2) * width
            ax.bar(xs, [100 * np.nan_to_num(cell(at, cat, what)) for at in times], width,
                   color=a.colours[cat], label=_static_map.plain(cat))
        ax.set_xticks(np.arange(len(times)), [_static_map.plain(at) for at in times])
        ax.set_ylabel(f"% of {'residents' if a.has_pop else 'blocks'} within {t:g} min")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
        svg = _svg(fig, "coverage by time of week")
    whom = "residents" if a.has_pop else "blocks"
    return ('<section id="times"><h2>Coverage by time of week</h2><p class="lede">The share '
            f"of {whom} within a {t:g}-minute walk of the nearest space of each category "
            "<em>that is open at that time</em>, from each space's opening hours. Spaces "
            "whose hours are unknown (none given, not understood, or different in different "
            "weeks of the year) are counted as open; the table says how many there are. "
            "Per area and threshold: <code>coverage_by_time.csv</code>.</p>"
            + _table(head, rows) + '<figure class="chart">' + svg
            + f"<figcaption>Share of the whole study's {whom} within {t:g} minutes of an "
            "open space, per category (black: every category) and time of week."
            "</figcaption></figure>"
            + (_groups_by_time_table(a, groups_by_time)
               if groups_by_time is not None and a.has_pop else "") + "</section>")


_PLAN_UNITS = {"villages": "villages", "spaces": "spaces", "capacity": "capacity"}


def _plan_value(metric: str, value: Any) -> str:
    return _pct(value) if metric == "coverage" else _int(value)


def _plan_target_name(row: Any) -> str:
    cat = _esc(row["category"]) if row["category"] else ""
    if row["metric"] == "coverage":
        whom = "every category" if row["category"] == "all" else cat
        what = f"residents within {float(row['minutes']):g} min of {whom}"
    elif row["metric"] == "villages":
        what = "sharing villages"
    else:
        what = f"{cat} {_PLAN_UNITS[str(row['metric'])]}"
    label = f"<br><span class=\"note\">{_esc(row['label'])}</span>" if row.get("label") else ""
    return what + label


def _plan_section(plan: pd.DataFrame, sites: pd.DataFrame | None) -> str:
    """Render the plan's targets: where the study stands, the shortfall, the sites and after."""
    year = plan["year"].dropna().iloc[0] if "year" in plan and plan["year"].notna().any() \
        else None
    head = ['<th class="name">target</th>', "<th>now</th>", "<th>aimed at</th>",
            "<th>shortfall</th>", "<th>sites added</th>", "<th>after the plan</th>",
            '<th class="name">note</th>']
    rows = []
    for i, row in enumerate(plan.to_dict("records"), start=1):
        met = bool(row.get("met"))
        rows.append([_td(f"{i}. {_plan_target_name(row)}", cls="name"),
                     _td(_plan_value(row["metric"], row["current"])),
                     _td(_plan_value(row["metric"], row["target"])),
                     _td(_plan_value(row["metric"], row["shortfall"])),
                     _td(_int(row["sites_added"])),
                     _td(_plan_value(row["metric"], row["after"]) + (" &#10003;" if met else ""),
                         style=_heat(1.0 if met else 0.0)),
                     _td(_esc(row.get("note", "")), cls="name")])
    site_rows = []
    for s in ([] if sites is None else sites.to_dict("records")):
        gain = (f"+{_int(s['gain_population'])} residents within "
                f"{float(s['gain_minutes']):g} min" if pd.notna(s["gain_population"])
                else f"+{_int(s['gain_blocks'])} candidate blocks, "
                f"{_int(s['villages_after'])} villages")
        site_rows.append([_td(_int(s["target"])), _td(_int(s["order"])),
                          _td(_esc(s["category"]), cls="name"), _td(_esc(s["site_id"]), cls="name"),
                          _td(_esc(s["name"]), cls="name"), _td(gain)])
    site_head = ["<th>target</th>", "<th>order</th>", '<th class="name">category</th>',
                 '<th class="name">site</th>', '<th class="name">name</th>', "<th>adds</th>"]
    sites_html = (f"<h3>The sites, target by target ({len(site_rows)})</h3>"
                  + _table(site_head, site_rows)) if site_rows else ""
    when = f" for {int(year)}" if year is not None else ""
    return (f'<section id="plan"><h2>Plan targets{when}</h2><p class="lede">Where the study '
            "stands against each target, how far it is from it, and the sites that close it "
            "(each target from the study with the sites of the targets before it; "
            "<em>after the plan</em> counts every site). Tables: <code>plan.csv</code>, "
            "<code>plan_sites.gpkg</code>.</p>" + _table(head, rows) + sites_html
            + "</section>")


def _gaps_section(a: _Audit) -> str:
    whom = "residents" if a.has_pop else "blocks"
    body = "".join(_gap_tables(a, cat) for cat in a.categories)
    return ('<section id="gaps"><h2>Where the gaps are</h2>'
            f'<p class="lede">Per category, the {_esc(a.level or "areas")} with the most '
            f"{whom} beyond a {a.minutes:g}-minute walk of the nearest space (or with none "
            "reachable), and the blocks with the most such residents, with their nearest space "
            f"and the walk to it. The full lists are in <code>gaps.csv</code>.</p>"
            f'<div class="grid2">{body}</div></section>')


def _draw_map(ax: Axes, a: _Audit, column: str, cat: str | None, font: str | None) -> None:
    """One small map: blocks by `column`'s walk, the finest units on top, the spaces."""
    r = a.result
    b = r.blocks
    _static_map.draw_blocks(ax, b, column, linewidth=0.15, candidates=False)
    units = r.boundaries.get(a.level) if a.level else None
    if units is not None:
        _static_map.draw_boundaries(ax, units, style="over", max_names=_MAX_MAP_LABELS,
                                    name_size=6, ascii_names_only=font is None)
    sp = r.spaces if cat is None else r.spaces[r.spaces["category"] == cat]
    _static_map.draw_spaces(ax, sp, {c: a.colours[c] for c in a.categories}, size=9,
                            linewidth=0.4)
    frame = r.map_frame()  # the study area (or the part of it counted)
    if frame is not None:
        xmin, ymin, xmax, ymax = frame.to_crs(b.crs).total_bounds
    else:
        xmin, ymin, xmax, ymax = b.total_bounds
        if units is not None and len(units):
            ux0, uy0, ux1, uy1 = units.total_bounds
            xmin, ymin = min(xmin, ux0), min(ymin, uy0)
            xmax, ymax = max(xmax, ux1), max(ymax, uy1)
    pad = 0.02 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _maps_section(a: _Audit) -> str:
    from matplotlib.figure import Figure

    panels: list[tuple[str, str | None, str]] = [
        (walk_col(c), c, f"walk to the nearest {c} space") for c in a.categories]
    if "proximity_min" in a.result.blocks:
        panels.append(("proximity_min", None, "walk to the farthest of the nearest spaces "
                       "(all categories)"))
    figs = []
    with _figures() as font:
        for column, cat, caption in panels:
            fig = Figure(figsize=(4.2, 4.2))
            ax = fig.add_axes((0, 0, 1, 1))
            _draw_map(ax, a, column, cat, font)
            figs.append(f'<figure><img alt="{_esc(caption)}" src="{_png(fig)}">'
                        f"<figcaption>{_esc(caption)}</figcaption></figure>")
    legend = "".join(f'<span class="sw" style="background:{c}"></span>{_esc(lb)}'
                     for lb, c in _static_map.class_legend(walk_col("any")))
    spaces = "".join(f'<span class="sw" style="background:{a.colours[c]};border-radius:7px">'
                     f"</span>{_esc(c)}" for c in a.categories)
    return ('<section id="maps"><h2>Maps</h2><p class="lede">Blocks coloured by the walk from '
            "the block to the nearest space (dots: the spaces; lines: "
            f"{_esc(a.level or 'boundaries')}).</p><p class=\"legend\">{legend}</p>"
            f'<p class="legend">{spaces}</p><div class="maps">{"".join(figs)}</div></section>')


def _method_section(a: _Audit) -> str:
    r = a.result
    cfg = r.config
    cov = cfg.coverage
    pop_level = cov.population_level
    bcfg = cfg.blocks
    several = (f" A block of {bcfg.multi_origin_min_area_m2 / 10_000:g} ha or more is judged "
               f"from the points of a {bcfg.origin_spacing_m:g} m grid inside it, each holding "
               "its share of the block's residents; its walk is the median over them, weighted "
               "by residents, and its residents count as covered origin by origin."
               if bcfg.multi_origin else "")
    items = [
        "<b>Walk</b>: the shortest walk on the OpenStreetMap walking network from a block's "
        "representative point to the nearest space of the category, at "
        f"{cfg.walk_speed_kmh:g} km/h ({cfg.walk_speed_m_per_min:g} m per minute).{several}",
        f"<b>Covered</b>: a block whose walk is at most the threshold ({a.minutes:g} minutes "
        "here); a block from which no space is reachable is not covered. "
        "<em>all</em>: covered for every category, i.e. the walk to the farthest of the "
        "nearest spaces (<code>proximity_min</code>) is within the threshold.",
    ]
    if pop_level is not None:
        source = (f"the table {_esc(cov.population_table.path.name)}, joined on "
                  f"<code>{_esc(cov.population_table.key)}</code>"
                  if cov.population_table else f"the boundary file {_esc(pop_level.path.name)}")
        spread = _spread_words(cov.weights)
        lost = r.summary.get("counts", {}).get("population_unallocated")
        items.append(
            f"<b>Residents</b>: each {_esc(pop_level.level)}'s population (column "
            f"<code>{_esc(pop_level.population)}</code> of {source}) is spread over the blocks "
            f"whose representative point it contains, in proportion to {spread}; a unit partly "
            "outside the study area keeps the share of its area inside."
            + (f" Residents not placed (no block in their unit): {_int(lost)}." if lost else ""))
    for g in cov.groups:
        prof = get_profile(g.profile)
        if prof.filters:  # its own streets: its distances differ (sharemap.profiles)
            items.append(
                f"<b>{_esc(g.label)}</b> (column <code>{_esc(g.column)}</code>, mobility "
                f"profile <code>{_esc(prof.name)}</code>): spread like all residents and "
                f"audited at {g.walk_speed_kmh:g} km/h on the streets the profile may use "
                f"({_esc(prof.describe())}): its walks are measured again on that network, "
                "so they are longer where steps or steep ways stand between, and a block "
                "origin or a space on a street it leaves out reaches nothing (the check "
                "<code>profile_points_cut_off</code> counts them).")
            continue
        items.append(
            f"<b>{_esc(g.label)}</b> (column <code>{_esc(g.column)}</code>): spread like all "
            f"residents and audited at {g.walk_speed_kmh:g} km/h. Distances do not change with "
            f"speed, so their walk is the block's walk × {cfg.walk_speed_kmh:g} / "
            f"{g.walk_speed_kmh:g}.")
    if r.supply is not None:
        bands = "; ".join(f"weight {w:g} up to {u:g} min" for u, w in cfg.supply.bands)
        items.append(
            "<b>Supply per resident</b> (enhanced two-step floating catchment area, E2SFCA): "
            "each space's capacity is divided among the residents who can reach it within "
            f"{cfg.supply.bands[-1][0]:g} minutes, each counted with the weight of their walk's "
            f"band ({_esc(bands)}); each block then adds up the shares of the spaces it "
            "reaches, with the same weights. A unit's value is the residents' average. Every "
            "reached unit of capacity is shared out exactly, so the study's value is the "
            "capacity some resident can reach per 1,000 residents.")
    items.append("<b>Files</b>: <code>coverage.csv</code> (every level, category and "
                 "threshold), " + ("<code>coverage_groups.csv</code> (the same per group), "
                                   if cov.groups else "")
                 + "<code>gaps.csv</code> (the gap rankings in full), "
                 + ("<code>supply.csv</code> (supply per resident by unit and category), "
                    if r.supply is not None else "")
                 + "<code>blocks.gpkg</code> (per block: residents, walk minutes, "
                 "<code>proximity_min</code>"
                 + (", <code>supply_per_1000_&lt;category&gt;</code>" if r.supply is not None
                    else "") + ").")
    items.append("Street network © OpenStreetMap contributors (ODbL).")
    return ('<section id="method"><h2>How these numbers are made</h2><ul class="method">'
            + "".join(f"<li>{i}</li>" for i in items) + "</ul></section>")


# ----------------------------------------------------------------------------- public


def render_report(result: StudyResult, *, by_time: pd.DataFrame | None = None,
                  groups_by_time: pd.DataFrame | None = None,
                  plan: pd.DataFrame | None = None,
                  plan_sites: pd.DataFrame | None = None) -> str:
    """Render the coverage-gap audit of a study as one self-contained HTML page.

    Parameters
    ----------
    result
        From :func:`sharemap.run_study`.
    by_time
        Coverage at several times of week (:func:`sharemap.study.coverage_by_time`):
        adds a table and a chart of it (``#times``).
    groups_by_time
        Each population group's coverage at those times
        (:func:`sharemap.study.audit_at_times`' ``coverage_groups``): a table in ``#times``.
    plan
        A plan's targets (``plan.csv``, :func:`sharemap.plan.plan_targets`): adds a
        section after the headline (``#plan``).
    plan_sites
        The plan's sites (``plan_sites.gpkg``'s columns), listed in that section.

    Returns
    -------
    html_text
        The page: the study's warnings, if any (``#checks``, at the top), headline
        numbers (``#headline``), coverage by the finest boundary
        level and category at the audit threshold (``#coverage``), supply per
        resident by unit and category where the study has residents (``#supply``), a chart of
        coverage by category and walking time (``#chart``), the largest gaps
        (``#gaps``), small static maps (``#maps``) and the method (``#method``).

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    _matplotlib()
    a = _gather(result)
    parts = [_header(a), _checks_section(a), _headline(a),
             *([_plan_section(plan, plan_sites)] if plan is not None else []),
             _coverage_section(a), _supply_section(a),
             _chart_section(a),
             *([_times_section(a, by_time, groups_by_time)] if by_time is not None else []),
             _gaps_section(a), _maps_section(a), _method_section(a)]
    return ("<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Coverage audit: {_esc(a.name)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def write_report(result: StudyResult, path: str | Path, *,
                 by_time: pd.DataFrame | None = None,
                 groups_by_time: pd.DataFrame | None = None) -> Path:
    """Write the coverage-gap audit of a study to `path` as one self-contained HTML page.

    Parameters
    ----------
    result
        From :func:`sharemap.run_study`.
    path
        The HTML file to write (atomically); its folder is created.
    by_time
        Coverage at several times of week (:func:`sharemap.study.coverage_by_time`),
        shown as a table and a chart.
    groups_by_time
        Each population group's coverage at those times, shown as a table
        (:func:`sharemap.study.audit_at_times`).

    Returns
    -------
    path
        The written file.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    OutputError
        If `path` is a file the study reads (a layer, its TOML, ...).

    Examples
    --------
    >>> import tempfile
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> result = run_study(read_config(get_path("demo")))
    >>> out = write_report(result, Path(tempfile.mkdtemp()) / "report.html")
    >>> "Where the gaps are" in out.read_text(encoding="utf-8")
    True
    """
    _outputs.refuse_input(path, result.config)  # before rendering: an input is never replaced
    text = render_report(result, by_time=by_time, groups_by_time=groups_by_time)
    out = _io.write_text(text, path)
    logger.info("Wrote report %s (%.1f MB)", out, len(text.encode("utf-8")) / 1e6)
    return out


def audit_outputs(by_time: pd.DataFrame | None = None,
                  groups_by_time: pd.DataFrame | None = None) -> tuple[_outputs.Output, ...]:
    """Return the files ``sharemap audit`` adds to a run's, made with `by_time` if given.

    ``coverage_by_time.csv`` and ``coverage_groups_by_time.csv`` (with ``--times``:
    :func:`sharemap.study.audit_at_times`) and ``report.html``; pass them as
    ``write_outputs(..., extra=audit_outputs(by_time, groups_by_time))``.
    """
    def report_text(src: Any) -> str:
        text = render_report(src.result, by_time=by_time, groups_by_time=groups_by_time)
        logger.info("Report: %.1f MB", len(text.encode("utf-8")) / 1e6)
        return text

    return (
        _outputs.Output(
            "coverage_by_time.csv", "csv", make=lambda src: by_time, when="with `--times`",
            columns=("at",),
            holds="`at`, the `coverage.csv` columns, and `spaces_open`, `spaces_closed`, "
            "`spaces_unknown` per category, for each time of `--times` (see "
            "[Open when?](#open-when-opening-hours-and---at))"),
        _outputs.Output(
            "coverage_groups_by_time.csv", "csv", make=lambda src: groups_by_time,
            when="with `--times` and [coverage] groups", columns=("at",),
            holds="`at`, the `coverage_groups.csv` columns (every resident, then each "
            "population group at its own speed on its own streets), and `spaces_open`, "
            "`spaces_closed`, `spaces_unknown` per category, for each time of `--times`"),
        _outputs.Output(
            "report.html", "html", make=report_text, stage="report",
            holds="the coverage audit as one self-contained page for a district office (see "
            "[Coverage audit](#coverage-audit))"),
    )


#: ``report.html`` as a registry entry (made from the run's source, see ``RUN_OUTPUTS``).
REPORT_OUTPUT = audit_outputs()[-1]
#: Every file ``sharemap audit`` writes: the run's, the audit's, then the index.
AUDIT_OUTPUTS: tuple[_outputs.Output, ...] = (*RUN_OUTPUTS[:-1], *audit_outputs(),
                                              RUN_OUTPUTS[-1])
