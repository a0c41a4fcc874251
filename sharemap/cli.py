"""The ``sharemap`` command line: a thin shell over the public API.

Every subcommand makes one call into the library (the whole-study questions
``explain``, ``sweep`` and ``whatif`` into :mod:`sharemap.study`); a
:class:`SharemapError` becomes a one-line message and exit code 2. A new command is
a ``_cmd_<name>`` function here and one entry in the parser; its computation goes
into the library, not here.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._errors import SharemapError

__all__ = ["main"]

logger = logging.getLogger("sharemap")

EPILOG_RUN = """example:
  sharemap run data/demo/study.toml --out out/demo
"""
EPILOG_DEMO = """example:
  sharemap demo --out out/demo     # then open out/demo/map.html
"""


def _rule(summary: dict[str, Any]) -> str:
    """Say in words the village rule a candidate meets (the study's ``[villages]``)."""
    v = (summary.get("parameters") or {}).get("villages") or {}
    if v.get("count") == "capacity" and v.get("min_capacity") is not None:
        return f"an adjacent capacity of at least {v['min_capacity']:,.0f}"
    if v.get("distinct_categories"):
        return f"at least {v.get('min_spaces')} categories of adjacent spaces"
    return f"at least {v.get('min_spaces')} adjacent spaces"


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    c = summary["counts"]
    lines = [f"sharemap: {summary['study']}"]
    failed = [ch for ch in summary.get("checks", []) if ch["status"] != "ok"]
    if failed:
        lines.append(f"  WARNINGS        : {len(failed)} (read before using these figures; "
                     "summary.json \"checks\")")
        lines += [f"    ! {ch['name']}: {ch['message']}" for ch in failed]
    by_cat = ", ".join(f"{k} {v}" for k, v in c["spaces_by_category"].items()) or "none"
    beyond = (f"; {c['spaces_beyond_area']} of them beyond the study area's border "
              "(spaces_beyond_m)" if c.get("spaces_beyond_area") else "")
    lines.append(f"  spaces analysed : {c['spaces']} ({by_cat}){beyond}")
    caps = c.get("capacity_by_category") or {}
    n_def = sum(i.get("capacity_defaulted", 0) for i in summary.get("inputs", []))
    if n_def or any(v != c["spaces_by_category"].get(k) for k, v in caps.items()):
        by_cap = ", ".join(f"{k} {v:,.0f}" for k, v in caps.items() if v is not None)
        note = f"; {n_def} spaces without a readable value counted as 1" if n_def else ""
        lines.append(f"  capacity        : {by_cap}{note}")
    by_reason = ", ".join(f"{k} {v}" for k, v in c["rejects_by_reason"].items()) or "none"
    lines.append(f"  rows rejected   : {c['rejects']} ({by_reason}) -> rejects.csv")
    lines += _hours_lines(summary)
    lines.append(f"  blocks          : {c['blocks']}")
    lines.append(f"  candidates      : {c['candidates']} blocks with {_rule(summary)}")
    lines.append(f"  villages        : {c['villages']}")
    head = summary.get("coverage_headline") or {}
    if head:
        share = head.get("share_population_all")
        what = "residents"
        if share is None:
            share, what = head.get("share_blocks_all"), "blocks"
        pct = "n/a" if share is None else f"{100 * share:.1f}%"
        by_group = ", ".join(f"{g} {100 * v:.1f}%" for g, v in
                             (head.get("share_population_all_by_group") or {}).items()
                             if v is not None)
        pct += f" ({by_group} at their own pace)" if by_group else ""
        lines.append(f"  {what} within {head['threshold_min']:g} min of every category: {pct}")
    lines += _profile_lines(summary)
    supply = summary.get("supply_headline") or {}
    if supply:
        per = ", ".join(f"{k} {v:,.2f}" for k, v in supply["per_1000_residents"].items()
                        if v is not None)
        lines.append(f"  supply per 1,000 residents (E2SFCA, {supply['minutes']:g} min): {per}"
                     " -> supply.csv")
    cache = summary.get("cache") or {}
    if cache:
        lines.append("  cache           : " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in cache.items()))
    lines.append(f"  outputs in      : {out}")
    lines.append(f"  map             : {out / 'map.html'}")
    print("\n".join(lines))


def _profile_lines(summary: dict[str, Any]) -> list[str]:
    """Per mobility profile: the streets it leaves out (the points it cuts off are a warning)."""
    lines = []
    for name, p in (summary.get("profiles") or {}).items():
        removed = ", ".join(f"{n:,} {k.replace('_', '=')}" for k, n in
                            p["edges_removed"].items() if n) or "none"
        lines.append(f"  {'profile ' + name:<16}: {removed} of {p['edges']:,} edges left out "
                     f"({p['filter']})")
    return lines


def _hours_lines(summary: dict[str, Any]) -> list[str]:
    """Say which time was asked about and which hours values were not understood."""
    lines = []
    hours = summary.get("hours")
    if summary.get("at") and hours:
        lines.append(f"  {'at ' + summary['at']:<16}: only the spaces open then are counted; "
                     "spaces with unknown hours are kept (counted as open)")
        lines += [f"    {cat:<14}: {c['open']} open, {c['closed']} closed (not counted), "
                  f"{c['unknown']} hours unknown (kept)" for cat, c in hours.items()]
    odd = {i["source"]: i["hours_not_understood"] for i in summary.get("inputs", [])
           if i.get("hours_not_understood")}
    for src, values in odd.items():
        shown = ", ".join(f"{v!r} x{n}" for v, n in list(values.items())[:3])
        lines.append(f"  hours not understood in {src}: {sum(values.values())} spaces, kept "
                     f"as unknown ({shown})")
    return lines


def _with_at(config: Any, at: str | None) -> Any:
    return config if at is None else config.with_at(at, what="--at")


def _run(config_path: Path, out: Path, progress: bool, split_by: str | None = None, *,
         cache: bool = True, at: str | None = None, command: str = "run",
         times: str | None = None) -> int:
    from dataclasses import replace

    from ._errors import ConfigError
    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study, write_outputs

    config = _with_at(read_config(config_path), at)
    if split_by:
        levels = [b.level for b in config.coverage.boundaries]
        if split_by not in levels:
            msg = f"--split-by {split_by!r}: not a boundary level of the study ({levels})"
            raise ConfigError(msg)
        config = replace(config, map=replace(config.map, split_by=split_by))
    when = None
    if times:  # checked before the run
        from .hours import parse_times_of_week

        when = parse_times_of_week(times)
    with reserve(command, out, config) as folder:  # a bad --out stops before any work
        result = run_study(config, cache=cache)
        extra: tuple[Any, ...] = ()
        if command == "audit":  # the run's files and the audit's, as one run's folder
            from .report import audit_outputs
            from .study import audit_at_times

            by = audit_at_times(result, when) if when else None
            extra = audit_outputs(by.coverage if by else None,
                                  by.coverage_groups if by else None)
        paths = write_outputs(result, folder, progress=progress, extra=extra)
    _print_summary(result.summary, out)
    if "coverage_by_time.csv" in paths:
        print(f"  by time of week : {out / 'coverage_by_time.csv'}")
    if "coverage_groups_by_time.csv" in paths:
        print(f"  groups by time  : {out / 'coverage_groups_by_time.csv'}")
    if "report.html" in paths:
        print(f"  report          : {out / 'report.html'}")
    if "map.png" in paths:
        print(f"  figure          : {out / 'map.png'}")
    if any(name.startswith("maps/") for name in paths):
        print(f"  maps per {config.map.split_by:<7}: {out / 'maps' / 'index.html'}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.config), Path(args.out), args.progress, args.split_by,
                cache=args.cache, at=args.at)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import get_path

    return _run(get_path("demo"), Path(args.out), args.progress, args.split_by,
                cache=args.cache, at=args.at)


EPILOG_SUGGEST = """examples:
  sharemap suggest data/demo/study.toml --category tools --add 3 --out out/suggest
  sharemap suggest study.toml --category toys --add 2 --objective villages --out out/s
  sharemap suggest study.toml --category tools --add 5 --candidates sites.csv \\
      --x lon --y lat --crs EPSG:4326 --id site_id --name name --out out/s
  sharemap suggest study.toml --category tools --add 5 --grid 150 --exclude parks.gpkg \\
      --weights "65+=2" --out out/s
"""
EPILOG_WHATIF = """examples:
  sharemap whatif data/demo/study.toml --add new_tools.csv --category tools \\
      --x lon --y lat --crs EPSG:4326 --out out/whatif
  sharemap whatif data/demo/study.toml --remove 3501,carshare:NC0101 --out out/whatif
"""


def _column_options(p: argparse.ArgumentParser) -> None:
    for opt, what in (("x", "x / longitude column"), ("y", "y / latitude column"),
                      ("crs", "CRS of x/y, e.g. EPSG:4326 or EPSG:5186"),
                      ("id", "id column"), ("name", "name column"),
                      ("preset", "a Seoul open-data layout (see README)"),
                      ("encoding", "text encoding (detected when not given)")):
        p.add_argument(f"--{opt}", help=what)


def _read_points(args: argparse.Namespace, path: str, category: str, result: Any
                 ) -> Any:
    from .layers import read_layer

    pts, rejects = read_layer(path, category=category, study_area=result.study_area,
                              analysis_crs=result.config.crs, x=args.x or None,
                              y=args.y or None, crs=args.crs or None, id=args.id or None,
                              name=args.name or None, preset=args.preset or None,
                              encoding=args.encoding or None)
    if len(rejects):
        reasons = rejects["reason"].value_counts().to_dict()
        print(f"  {path}: {len(rejects)} rows not used ({reasons})")
    return pts


def _cmd_suggest(args: argparse.Namespace) -> int:
    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study
    from .study import read_areas
    from .suggest import parse_weights, suggest_sites, write_suggestions

    config = read_config(args.config)
    parse_weights(args.weights, config.coverage.groups)  # a bad --weights stops before work
    extra = [p for p in (args.candidates, args.exclude) if p]
    with reserve("suggest", args.out, config, extra_inputs=extra) as folder:
        exclude = read_areas(args.exclude, crs=config.crs) if args.exclude else None
        result = run_study(config, cache=args.cache)
        cand = None
        if args.candidates:
            pts = _read_points(args, args.candidates, "candidate", result)
            cand = pts.rename(columns={"space_id": "site_id"})[["site_id", "name", "geometry"]]
        sug = suggest_sites(result, category=args.category, add=args.add,
                            minutes=args.minutes, candidates=cand, grid_m=args.grid,
                            exclude=exclude, weights=args.weights, objective=args.objective,
                            progress=args.progress)
        write_suggestions(sug, result, folder)
    _print_suggestion(sug, args)
    return 0


def _print_suggestion(sug: Any, args: argparse.Namespace) -> None:
    info = sug.info
    where = {"given": str(args.candidates), "facility": "the study's facilities",
             "grid": f"a {info.get('grid_m') or 0:g} m grid on the walking network"}
    lines = [f"sharemap suggest: {info['category']}, {len(sug.suggestions)} of "
             f"{info['candidates']} candidate sites ({info['objective']}; sites from "
             f"{where[info['candidate_source']]})"]
    if info["chosen"] < info["asked"]:
        lines.append(f"  only {info['chosen']} of the {info['asked']} sites asked for add "
                     "anything: every other candidate site adds no "
                     + ("resident" if args.objective == "population" else "candidate block"))
    if info["candidates_existing"] or info["candidates_excluded"]:
        lines.append(f"  left out: {info['candidates_existing']} sites where a "
                     f"{info['category']} space already stands, {info['candidates_excluded']}"
                     " in the excluded areas")
    pop = args.objective == "population"
    weighted = bool(info.get("weights"))
    gain_col = "gain_weighted" if weighted else "gain_population" if pop else "gain_blocks"
    unit = "weighted residents" if weighted else "residents" if pop else "candidate blocks"
    for row in sug.suggestions.itertuples():
        lines.append(f"  {row.order}. {row.site_id} {row.name}: +{getattr(row, gain_col):,.0f} "
                     f"{unit}")
    if pop:
        lines.append(f"  residents within {info['minutes']:g} min: "
                     f"{info['covered_population_before']:,.0f} -> "
                     f"{info['covered_population_after']:,.0f} of {info['population_total']:,.0f}")
        from .config import group_slug

        for label, weight in (info.get("weights") or {}).items():
            lines.append(f"  {label} residents newly within reach at their own pace: "
                         f"+{info['gain_' + group_slug(label)]:,.0f} (each counted {weight:g}x)")
    else:
        lines.append(f"  candidate blocks: {info['candidate_blocks_before']} -> "
                     f"{info['candidate_blocks_after']}")
    lines += _optimum_lines(sug, unit)
    lines.append(f"  outputs in {args.out}")
    print("\n".join(lines))


def _optimum_lines(sug: Any, unit: str) -> list[str]:
    info = sug.info
    greedy, bound = info["greedy_gain"], info["bound_gain"]
    gap = 0.0 if bound <= 0 else 100 * (bound - greedy) / bound
    if info.get("bound_method") == "optimum":
        same = set(info.get("optimum_sites", [])) == set(sug.suggestions["site_id"])
        lines = [f"  exact optimum: +{bound:,.0f} {unit}; greedy +{greedy:,.0f} "
                 f"({gap:.2f}% below the optimum)"
                 + ("; the same sites" if same else "")]
        if not same and sug.optimum is not None:
            lines.append("  optimum's sites: " + ", ".join(
                f"{r.order}. {r.site_id}" for r in sug.optimum.itertuples()))
        return lines
    what = {"milp_bound": "the solver's bound at its time limit",
            "lagrangian": "the LP relaxation's Lagrangian bound",
            "greedy_online": "the greedy's online bound"}.get(info.get("bound_method", ""), "")
    if not what:
        return []
    return [f"  greedy +{greedy:,.0f} {unit}; no choice adds more than +{bound:,.0f} ({what}): "
            f"at most {gap:.2f}% below the optimum"]


def _cmd_whatif(args: argparse.Namespace) -> int:
    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study
    from .study import check_categories, whatif, write_whatif

    if args.add and not args.category:
        print("sharemap: error: --add needs --category", file=sys.stderr)
        return 2
    config = read_config(args.config)
    if args.add:
        check_categories([args.category], config)  # before any work
    with reserve("whatif", args.out, config,
                 extra_inputs=[args.add] if args.add else []) as folder:
        result = run_study(config, cache=args.cache)
        add = _read_points(args, args.add, args.category, result) if args.add else None
        remove = [r.strip() for r in (args.remove or "").split(",") if r.strip()]
        change = whatif(result, add=add, remove=remove)
        write_whatif(change, folder)
    _print_whatif(change, args)
    return 0


def _print_whatif(change: Any, args: argparse.Namespace) -> None:
    cov = change.coverage_change
    city = cov[(cov["level"] == "city") & (cov["threshold_min"] == cov["threshold_min"].max())]
    first = {c: i for i, c in enumerate(dict.fromkeys(city["category"]))}  # each category's
    city = city.sort_values("category", key=lambda s: s.map(first), kind="stable")  # groups
    lines = [f"sharemap whatif: +{change.info['added']} spaces, -{change.info['removed']} "
             "spaces"]
    for row in city.itertuples():
        who = "residents" if row.group == "all residents" else \
            f"  {row.group} residents ({row.walk_speed_kmh:g} km/h)"
        lines.append(f"  {row.category:<10} {who} within {row.threshold_min:g} min: "
                     f"{row.population_covered_before:,.0f} -> "
                     f"{row.population_covered_after:,.0f} "
                     f"({row.population_covered_change:+,.0f})")
    gains = int((change.block_change["change"] == "gains candidacy").sum())
    losses = int((change.block_change["change"] == "loses candidacy").sum())
    lines.append(f"  candidate blocks: +{gains} / -{losses}; villages "
                 f"{len(change.before.villages)} -> {len(change.after.villages)}")
    for row in change.village_change.itertuples():
        before = f"#{row.ranks_before.replace(',', ', #')}" if row.ranks_before else "-"
        after = f"#{row.ranks_after.replace(',', ', #')}" if row.ranks_after else "-"
        lines.append(f"    village {row.change}: {before} -> {after} "
                     f"({row.blocks_before} -> {row.blocks_after} blocks)")
    lines.append(f"  outputs in {args.out}")
    print("\n".join(lines))


def _plan_value(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric == "coverage" else f"{value:,.0f}"


def _plan_lines(table: Any, sites: Any) -> list[str]:
    """Each target: where the study stands, the shortfall, the sites and the value after."""
    lines = []
    for i, row in enumerate(table.to_dict("records"), start=1):
        m = row["metric"]
        what = {"villages": "sharing villages", "spaces": f"{row['category']} spaces",
                "capacity": f"{row['category']} capacity"}.get(
            m, f"residents within {row['minutes']:g} min of {row['category']}")
        label = f" ({row['label']})" if row["label"] else ""
        short = (f"shortfall {_plan_value(m, row['shortfall'])}" if row["shortfall"] > 0
                 else "met already")
        lines.append(f"  {i}. {what}{label}: {_plan_value(m, row['current'])} now, target "
                     f"{_plan_value(m, row['target'])}, {short}; {row['sites_added']} "
                     f"site{'' if row['sites_added'] == 1 else 's'} "
                     f"-> {_plan_value(m, row['after'])}{' (met)' if row['met'] else ''}")
        if row["note"]:
            lines.append(f"       note: {row['note']}")
        for s in sites[sites["target"] == i].itertuples():
            gain = (f"+{s.gain_blocks:,.0f} candidate blocks, {s.villages_after:,.0f} villages"
                    if m == "villages" else
                    f"+{s.gain_population:,.0f} residents within {s.gain_minutes:g} min")
            lines.append(f"       {s.order}. {s.category} at {s.site_id} {s.name}: {gain}")
    return lines


def _cmd_plan(args: argparse.Namespace) -> int:
    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study
    from .plan import check_plan, plan_targets, write_plan

    config = read_config(args.config)
    check_plan(config.plan, config.categories)  # before any work
    with reserve("plan", args.out, config) as folder:
        result = run_study(config, cache=args.cache)
        plan = plan_targets(result, progress=args.progress)
        write_plan(plan, folder)
    year = f" for {plan.info['year']}" if plan.info.get("year") else ""
    print(f"sharemap plan: {result.config.name}, {len(plan.table)} targets{year}; "
          f"{plan.info['targets_met']} met after the plan's {len(plan.sites)} sites")
    print("\n".join(_plan_lines(plan.table, plan.sites)))
    print(f"  outputs in {args.out} (plan.csv, plan_sites.gpkg, map.html, report.html)")
    return 0


def _signed(value: float) -> str:
    return "0" if abs(value) < 0.5 else f"{value:+,.0f}"


def _compare_lines(comp: Any) -> list[str]:
    """Spaces, residents within reach (city and by unit of the finest level), villages."""
    info, cov = comp.info, comp.coverage
    lines = [f"  blocks          : {info['blocks']:,} matched by {info['blocks_matched_by']}"]
    a_n = comp.a.spaces["category"].value_counts()
    b_n = comp.b.spaces["category"].value_counts()
    lines.append("  spaces          : " + "; ".join(
        f"{c} {a_n.get(c, 0)} -> {b_n.get(c, 0)} ({n['new']} new, {n['gone']} gone)"
        for c, n in info["spaces"]["by_category"].items()))
    moved = cov.groupby("category")["change_population"].apply(lambda s: s.abs().sum() > 0.5)
    shown = [c for c in info["categories_compared"] if moved.get(c, False)]
    city = cov[cov["level"] == "city"]
    for c in shown:
        parts = [f"{r.threshold_min:g} min {100 * r.share_population_a:.1f}% -> "
                 f"{100 * r.share_population_b:.1f}% ({_signed(r.change_population)})"
                 for r in city[city["category"] == c].itertuples()]
        lines.append(f"  residents within reach of {c}: " + "; ".join(parts))
    levels = [lv for lv in cov["level"].unique() if lv != "city"]
    if shown and levels:
        fine = cov[(cov["level"] == levels[-1]) & cov["category"].isin(shown)]
        table = fine.pivot_table(index="area", columns=["category", "threshold_min"],
                                 values="change_population", sort=False, aggfunc="sum")
        table.columns = [f"{c} {t:g} min" for c, t in table.columns]
        lines.append(f"  change in residents within reach, by {levels[-1]} (B - A):")
        lines += ["    " + row for row in table.map(_signed).to_string().splitlines()]
    skipped = info.get("categories_not_compared", {})
    minutes = info.get("thresholds_not_compared", {})
    if skipped or minutes:
        lines.append("  not compared    : " + ", ".join(
            [f"{c} ({why})" for c, why in skipped.items()]
            + [f"{t} min ({why})" for t, why in minutes.items()]))
    if not shown:
        lines.append("  residents within reach: " + (
            "no change in the categories compared" if skipped else
            "no change in any category or threshold"))
    by = ", ".join(f"{n} {k}" for k, n in info["villages_by_change"].items())
    lines.append(f"  blocks          : {info['blocks_gained']} gained access, "
                 f"{info['blocks_lost']} lost; candidates {info['candidates_a']} -> "
                 f"{info['candidates_b']}")
    lines.append(f"  villages        : {info['villages_a']} -> {info['villages_b']} "
                 f"({by or 'none changed'})")
    return lines


def _cmd_compare(args: argparse.Namespace) -> int:
    from ._outputs import input_paths
    from .compare import check_same_area, compare_studies, write_comparison
    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study

    config_a, config_b = read_config(args.study_a), read_config(args.study_b)
    check_same_area(config_a, config_b)  # before any work
    with reserve("compare", args.out, config_a, extra_inputs=input_paths(config_b)) as folder:
        a = run_study(config_a, cache=args.cache)
        b = run_study(config_b, cache=args.cache)
        comp = compare_studies(a, b)
        write_comparison(comp, folder)
    print(f"sharemap compare: {config_a.name}: A = {args.study_a}, B = {args.study_b}")
    print("\n".join(_compare_lines(comp)))
    print(f"  outputs in {args.out} (compare_coverage.csv, compare_villages.csv, "
          "compare_blocks.gpkg, map.html)")
    return 0


def _number(key: str, what: str, *, whole: bool = False) -> Callable[[str], Any]:
    """Return a parser of an option holding `what` (whole if `whole`) within ``LIMITS[key]``."""
    from ._validate import LIMITS, check_number, check_whole

    def parse(text: str) -> Any:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            msg = f"expected {what}, got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        check = check_whole if whole else check_number
        return check(value, "the value", LIMITS[key], error=argparse.ArgumentTypeError)

    return parse


def _numbers(key: str, what: str, each: str, *, whole: bool = False) -> Callable[[str], list[Any]]:
    """Return a parser of comma-separated `what`, each parsed as ``_number(key, each)``."""
    one = _number(key, each, whole=whole)

    def parse(text: str) -> list[Any]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            msg = f"expected comma-separated {what}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return [one(v) for v in values]

    return parse


def _cmd_explain(args: argparse.Namespace) -> int:
    from .config import read_config
    from .pipeline import run_study
    from .study import explain_block

    result = run_study(read_config(args.config), cache=args.cache)
    print(explain_block(result, args.block_id))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from .config import read_config
    from .outputs import reserve
    from .pipeline import run_study
    from .study import sweep, write_sweep

    config = read_config(args.config)
    if args.group is not None:  # a label that is not a group: said before any work
        from .study import find_group

        find_group(config, args.group)
    with reserve("sweep", args.out, config) if args.out else nullcontext() as folder:
        result = run_study(config, cache=args.cache)
        table = sweep(result, adjacent_minutes=args.adjacent_minutes,
                      min_spaces=args.min_spaces, group=args.group)
        if folder is not None:
            write_sweep(table, folder)
    print(table.to_string(index=False))
    if args.out:
        print(f"written to {Path(args.out) / 'sweep.csv'}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    return _run(Path(args.config), Path(args.out), args.progress, cache=args.cache,
                at=args.at, command="audit", times=args.times)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line that says where help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _study_commands(add: Any) -> None:
    run = add("run", "run a study from its TOML configuration", EPILOG_RUN, _cmd_run)
    run.add_argument("config", help="the study's TOML file")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--split-by", help="also one map per unit of this boundary level (e.g. gu)")
    demo = add("demo", "run the shipped synthetic demo district", EPILOG_DEMO, _cmd_demo)
    demo.add_argument("--out", default="sharemap-demo", help="output folder")
    demo.add_argument("--split-by", help="also one map per unit of this boundary level (dong)")
    au = add("audit", "run a study and write a coverage-gap report (report.html) for a "
             "district office", "examples:\n  sharemap audit data/demo/study.toml --out out/audit"
             '\n  sharemap audit study.toml --times "Mon 09:00,Mon 19:00,Sat 14:00" --out out/a',
             _cmd_audit)
    au.add_argument("config", help="the study's TOML file")
    au.add_argument("--out", required=True, help="output folder")
    au.add_argument("--times", help='comma-separated times of week, e.g. "Mon 09:00,Sat 14:00":'
                    " coverage at each with only the spaces open then (table and chart in "
                    "report.html, coverage_by_time.csv)")
    for cmd in (run, demo, au):
        cmd.add_argument("--at", help='a time of week, e.g. "Sat 14:00" (English day, 24-hour '
                         "time): count only the spaces open then (overrides [study] at)")
    ex = add("explain", "say in words why a block is (not) a village candidate",
             "example:\n  sharemap explain data/demo/study.toml 42", _cmd_explain)
    ex.add_argument("config", help="the study's TOML file")
    ex.add_argument("block_id", help="a block_id from blocks.gpkg")
    sw = add("sweep", "candidates and villages for several adjacency rules",
             "example:\n  sharemap sweep data/demo/study.toml --adjacent-minutes 3,5,7 "
             "--min-spaces 2,3,4 --out out/sweep", _cmd_sweep)
    sw.add_argument("config", help="the study's TOML file")
    sw.add_argument("--adjacent-minutes", default=[3.0, 5.0, 7.0],
                    type=_numbers("minutes", "minutes", "minutes (a number)"),
                    help="comma-separated minutes (3,5,7)")
    sw.add_argument("--min-spaces", default=[2, 3, 4],
                    type=_numbers("min_spaces", "whole numbers", "a whole number", whole=True),
                    help="comma-separated counts (2,3,4)")
    sw.add_argument("--group", help="a [coverage] groups label: adjacency as that group "
                    "walks (its pace, its mobility profile's streets) and its residents")
    sw.add_argument("--out", help="folder for sweep.csv")


def _planning_commands(add: Any) -> None:
    sug = add("suggest", "choose sites for new facilities (maximal covering)", EPILOG_SUGGEST,
              _cmd_suggest)
    sug.add_argument("config", help="the study's TOML file")
    sug.add_argument("--category", required=True, help="category to add sites for")
    sug.add_argument("--add", type=_number("add", "a whole number", whole=True), required=True,
                     help="number of sites to choose")
    sug.add_argument("--minutes", type=_number("minutes", "minutes (a number)"), default=15.0,
                     help="coverage threshold (15)")
    sug.add_argument("--objective", choices=("population", "villages"), default="population")
    sug.add_argument("--candidates", help="candidate sites file (read like a layer)")
    sug.add_argument("--grid", type=_number("grid_m", "metres (a number)"), metavar="METRES",
                     help="candidate sites on a grid of this spacing on the walking network "
                     "(away from existing sites), instead of the study's facilities")
    sug.add_argument("--exclude", metavar="FILE",
                     help="areas where no site may be (polygons: parks, water, ...)")
    sug.add_argument("--weights", metavar='"GROUP=W,..."',
                     help='count a resident of a [coverage] group W times, at the group\'s own '
                     'walking speed (e.g. "65+=2")')
    _column_options(sug)
    sug.add_argument("--out", required=True, help="output folder")
    wi = add("whatif", "recompute coverage and villages with spaces added/removed",
             EPILOG_WHATIF, _cmd_whatif)
    wi.add_argument("config", help="the study's TOML file")
    wi.add_argument("--add", help="file of spaces to add (read like a layer)")
    wi.add_argument("--category", help="category of the added spaces")
    wi.add_argument("--remove", help="comma-separated space ids to remove (category:id if "
                    "an id repeats across categories)")
    _column_options(wi)
    wi.add_argument("--out", required=True, help="output folder")
    pl = add("plan", "where the study stands against its [plan] targets, and the sites that "
             "close each", "example:\n  sharemap plan data/examples/seoul_plan_2025.toml "
             "--out out/plan", _cmd_plan)
    pl.add_argument("config", help="the study's TOML file, with a [plan] table")
    pl.add_argument("--out", required=True, help="output folder")
    cmp = add("compare", "the change between two studies of the same area (e.g. two "
              "snapshots of a layer)", "example:\n  sharemap compare bikes_2022.toml "
              "bikes_2025.toml --out out/compare", _cmd_compare)
    cmp.add_argument("study_a", help="the earlier study's TOML file")
    cmp.add_argument("study_b", help="the later study's TOML file (same network, area, blocks)")
    cmp.add_argument("--out", required=True, help="output folder")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sharemap",
        description="Walking access to Seoul's sharing services and sharing-village candidates.",
        epilog="examples:\n  sharemap demo --out out/demo\n  sharemap run study.toml --out out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress")
    # -v/-q also work after the subcommand (`sharemap demo -q`)
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more log output")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="errors only, no progress")
    common.add_argument("--no-cache", dest="cache", action="store_false",
                        help="neither read nor write the cache of prepared networks and "
                             "blocks (see README: Caching)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_: str, epilog: str, func: Any) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, parents=[common], help=help_, epilog=epilog,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.set_defaults(func=func)
        return cmd

    _study_commands(add)
    _planning_commands(add)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Print a warning as one line (a data issue for the user, not a code location)."""
    text = " ".join(str(message).split())
    print(f"sharemap: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"sharemap {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    _configure_logging(args.verbose, args.quiet)
    args.progress = not args.quiet and sys.stderr.isatty()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # restored on leaving the block
            return int(args.func(args))
    except SharemapError as exc:
        print(f"sharemap: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        return 0
    except KeyboardInterrupt:
        print("sharemap: interrupted; finished outputs are complete, others were not written",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
