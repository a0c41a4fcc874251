"""Time an ``--at`` run against a plain one on the Seoul-size study of ``bench_run.py``.

Issue 14's target: "an ``--at`` run no slower than a plain one". The study of
``bench_run.py`` (308,622 nodes, 5,000 spaces in 7 categories, ~400 dongs) gets
opening hours: every space of the six non-bike categories an ``opening_hours``
value drawn (seeded) from the ten real ``운영시간`` values of Seoul's tool-library
files and a few OSM strings (one in eight left empty: hours unknown); the bike
stations get none, like the real Ttareungyi files. Then, with the cache warm
(the network, blocks and block origins' snaps come from it, as in any second run),
it times in turn, ``--repeat`` times each (best and median):

- **no hours**: the same study without the ``hours`` keys (sharemap before opening hours);
- **plain**: with the ``hours`` keys, no ``at`` (every space analysed);
- **at**: with ``at = "Sat 14:00"`` (only the spaces open then are analysed);

each as ``run_study`` + ``write_outputs`` (a whole ``sharemap run`` less Python's
start-up), and reports the ratio at / plain (target: at most 1) and the seconds of
the hours stage itself. Run::

    python benchmarks/bench_hours.py --json hours.json        # about 8 minutes
    python benchmarks/bench_hours.py --small                  # seconds: a 60 x 60 grid
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_access import CATEGORY_SIZES, machine, write_json
from bench_run import write_study

#: the ten real 운영시간 values of the Dongdaemun-gu and Seongbuk-gu tool-library files,
#: plus OSM strings of the kinds OpenStreetMap holds
HOURS = [
    "평일 09:00 ~ 18:00", "평일 09:00 ~18:00", "평일 10:00 ~ 18:00", "평일 10:00 ~ 17:00",
    "평일 11:00 ~ 17:00", "평일 06:00 ~ 22:00 + 토 06:00 ~ 18:00", "화~토 10:00 ~ 18:00",
    "화~토 10:30 ~18:00 + 일 13:00 ~ 18:00", "월~금 09:00~18:00 (휴관일 제외)",
    "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)",
    "Mo-Fr 09:00-18:00; Sa 10:00-13:00; PH off", "24/7", "Mo-Su 06:00-24:00",
    "Tu-Su 10:00-12:00,13:00-19:00", "",
]
AT = "Sat 14:00"


def add_hours(folder: Path, *, seed: int = 5) -> None:
    """Give every non-bike layer an ``opening_hours`` column; write the three study files."""
    rng = np.random.default_rng(seed)
    text = (folder / "study.toml").read_text(encoding="utf-8")
    for cat in CATEGORY_SIZES:
        if cat == "bike":
            continue
        path = folder / f"{cat}.csv"
        table = pd.read_csv(path, dtype=str)
        weights = np.array([1.0] * (len(HOURS) - 1) + [2.0])  # 1 in 8 empty
        table["opening_hours"] = rng.choice(HOURS, size=len(table), p=weights / weights.sum())
        table.to_csv(path, index=False)
        text = text.replace(f'path = "{cat}.csv"\n',
                            f'path = "{cat}.csv"\nhours = "opening_hours"\n')
    (folder / "study_hours.toml").write_text(text, encoding="utf-8")
    (folder / "study_at.toml").write_text(
        re.sub(r"^\[study\]\n", f'[study]\nat = "{AT}"\n', text, flags=re.M), encoding="utf-8")


def time_variant(study: Path, out_dir: Path) -> dict[str, Any]:
    from sharemap import read_config
    from sharemap.pipeline import run_study, write_outputs

    gc.collect()
    start = time.perf_counter()
    result = run_study(read_config(study))
    run_s = time.perf_counter() - start
    write_outputs(result, out_dir)
    total = time.perf_counter() - start
    out = {"total_s": total, "run_study_s": run_s, "write_outputs_s": total - run_s,
           "stages": dict(result.summary["seconds"]), "spaces": len(result.spaces),
           "hours": result.summary.get("hours"),
           "cache": result.summary.get("cache")}
    del result
    gc.collect()
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def stat(key: str) -> dict[str, float]:
        vals = [r[key] for r in runs]
        return {"best": round(min(vals), 3), "median": round(statistics.median(vals), 3)}

    stages = {k: round(min(r["stages"].get(k, 0.0) for r in runs), 3) for k in runs[0]["stages"]}
    return {"total_s": stat("total_s"), "run_study_s": stat("run_study_s"),
            "write_outputs_s": stat("write_outputs_s"), "stages_best_s": stages,
            "spaces": runs[0]["spaces"], "hours": runs[0]["hours"], "cache": runs[-1]["cache"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("--small", action="store_true", help="a 60 x 60 grid (seconds)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each variant (3)")
    ap.add_argument("--keep", type=Path, help="write the study here and keep it")
    args = ap.parse_args(argv)

    side = 60 if args.small else 560
    scale = 500 if args.small else 5000
    sizes = {k: max(1, round(v * scale / 5000)) for k, v in CATEGORY_SIZES.items()}
    dong_side, gu_side = (6, 2) if args.small else (20, 5)
    res: dict[str, Any] = {"machine": machine(), "at": AT}
    print(f"machine: {res['machine']}")
    tmp = Path(tempfile.mkdtemp(prefix="sharemap-bench-hours-"))
    try:
        folder = args.keep or tmp / "study"
        if not (folder / "study_at.toml").is_file():
            print(f"writing the study ({side} x {side} grid) to {folder}")
            res["study"] = write_study(folder, side, sizes, dong_side=dong_side,
                                       gu_side=gu_side)
            add_hours(folder)
        else:
            res["study"] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        os.environ["SHAREMAP_CACHE_DIR"] = str(tmp / "cache")
        variants = {"no hours": folder / "study.toml", "plain": folder / "study_hours.toml",
                    "at": folder / "study_at.toml"}
        print("warming the cache (one plain run, not timed)")
        time_variant(variants["plain"], tmp / "out_warm")
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in variants}
        for i in range(args.repeat):
            for name, study in variants.items():  # interleaved: the machine's noise hits all
                r = time_variant(study, tmp / f"out_{name.replace(' ', '_')}")
                runs[name].append(r)
                print(f"  run {i + 1} {name:<8}: {r['total_s']:.2f} s "
                      f"(run_study {r['run_study_s']:.2f} s, {r['spaces']:,} spaces)")
        res["variants"] = {k: summarise(v) for k, v in runs.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    v = res["variants"]
    res["ratio_at_vs_plain"] = round(v["at"]["total_s"]["best"] / v["plain"]["total_s"]["best"], 3)
    res["ratio_at_vs_plain_median"] = round(
        v["at"]["total_s"]["median"] / v["plain"]["total_s"]["median"], 3)
    res["ratio_plain_vs_no_hours"] = round(
        v["plain"]["total_s"]["best"] / v["no hours"]["total_s"]["best"], 3)
    res["target_met"] = res["ratio_at_vs_plain"] <= 1.0
    print("\n| variant | spaces analysed | run_study (best) | whole run (best) | median |"
          "\n|---|---:|---:|---:|---:|")
    for name, s in v.items():
        print(f"| {name} | {s['spaces']:,} | {s['run_study_s']['best']:.2f} s "
              f"| {s['total_s']['best']:.2f} s | {s['total_s']['median']:.2f} s |")
    hours_s = v["at"]["stages_best_s"].get("hours", 0.0)
    print(f"\nhours stage of the at run: {hours_s:.3f} s; layers stage: no hours "
          f"{v['no hours']['stages_best_s']['layers']:.2f} s, with hours "
          f"{v['plain']['stages_best_s']['layers']:.2f} s")
    print(f"at {AT}: " + "; ".join(f"{c} {n['open']}/{n['closed']}/{n['unknown']}"
                                  for c, n in (v["at"]["hours"] or {}).items())
          + " (open/closed/unknown)")
    print(f"at / plain = {res['ratio_at_vs_plain']:.3f} best, "
          f"{res['ratio_at_vs_plain_median']:.3f} median "
          f"(target <= 1: {'met' if res['target_met'] else 'NOT met'}); "
          f"plain with hours / no hours = {res['ratio_plain_vs_no_hours']:.3f}")
    if side < 560:
        print(f"(a {side} x {side} grid: the target is for the Seoul-size 560 x 560 one)")
    write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
