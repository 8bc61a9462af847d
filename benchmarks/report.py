"""Medians, ratios and the issue-7 targets from the raw runs; RESULTS.md from those.

Pure functions over the results dict that `run.py` writes to results.json, so
the Markdown can be rebuilt from a saved JSON: `python -m benchmarks.report`.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

GATEWAYS = ("ours", "variant", "theirs")
FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_s_per_1k", "errors")


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    groups: dict[tuple[str, int, str], dict[str, list[dict[str, Any]]]] = {}
    for row in results["runs"]:
        key = (row["scenario"], row["concurrency"], row["upstream"])
        groups.setdefault(key, {}).setdefault(row["target"], []).append(row)
    cells = []
    for (scenario, conc, upstream), by_target in groups.items():
        medians = {target: _medians(rows) for target, rows in by_target.items()}
        cell: dict[str, Any] = {
            "scenario": scenario,
            "concurrency": conc,
            "upstream": upstream,
            "median": medians,
        }
        ours = medians.get("ours", {}).get("rps")
        for other in ("theirs", "variant"):
            if ours is not None and medians.get(other, {}).get("rps"):
                cell[f"ours_over_{other}"] = ours / medians[other]["rps"]
        best = max((m["rps"] for t, m in medians.items() if t != "direct"), default=0)
        if best and "direct" in medians:
            cell["standin_headroom"] = medians["direct"]["rps"] / best
        if conc == 1 and "direct" in medians:
            cell["added_p50_ms"] = {
                t: m["p50_ms"] - medians["direct"]["p50_ms"]
                for t, m in medians.items()
                if t != "direct" and "p50_ms" in m
            }
        cells.append(cell)
    return {"cells": cells, "targets": targets(results["gateways"], cells)}


def _medians(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per figure, the median over the runs that have it (a run with no answer has no p50)."""
    out = {}
    for f in FIGURES:
        values = [r[f] for r in rows if r.get(f) is not None]
        if values:
            out[f] = statistics.median(values)
    return out


def _target(name: str, value: float | None, goal: str, met: bool | None) -> dict[str, Any]:
    return {"name": name, "value": value, "goal": goal, "met": met}


def targets(gateways: dict[str, Any], cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []

    def ratios(pred: Any) -> list[float]:
        return [c["ours_over_theirs"] for c in cells if pred(c) and "ours_over_theirs" in c]

    mid = ratios(lambda c: c["concurrency"] in (16, 64))
    slow = ratios(lambda c: c["concurrency"] == 256)
    added = [c["added_p50_ms"]["ours"] for c in cells if "ours" in c.get("added_p50_ms", {})]
    out.append(
        _target(
            "throughput x theirs, c=16/64 (worst cell)",
            min(mid, default=None),
            ">= 10",
            min(mid) >= 10 if mid else None,
        )
    )
    out.append(
        _target(
            "throughput x theirs, 256 in flight, 50 ms upstream (worst cell)",
            min(slow, default=None),
            ">= 20",
            min(slow) >= 20 if slow else None,
        )
    )
    out.append(_target("added p50 latency at c=1, ms (worst scenario)", max(added, default=None),
                       "<= 0.5", max(added) <= 0.5 if added else None))  # fmt: skip
    ours, theirs = gateways.get("ours"), gateways.get("theirs")
    if ours:
        idle = max(ours["idle_fresh_mib"], ours["idle_warm_mib"])
        out += [
            _target("idle RSS, MiB", idle, "<= 40", idle <= 40),
            _target("peak RSS, 256 in flight, MiB", ours["peak_256_mib"], "<= 80",
                    ours["peak_256_mib"] <= 80),
            _target("import time, ms", ours["import_ms"], "<= 150", ours["import_ms"] <= 150),
            _target("start to healthy, ms", ours["healthy_ms"], "<= 300",
                    ours["healthy_ms"] <= 300),
        ]  # fmt: skip
    if ours and theirs:
        share = ours["venv_mib"] / theirs["venv_mib"]
        out.append(_target("venv size / theirs", share, "<= 0.333", share <= 1 / 3))
    return out


# --- Markdown --------------------------------------------------------------------------


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _fig(medians: dict[str, dict[str, float]], target: str, figure: str, digits: int) -> str:
    return _n(medians.get(target, {}).get(figure), digits)


def throughput_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| scenario | c | upstream | ours req/s | variant req/s | theirs req/s "
        "| ours/theirs | ours/variant | p50 ms ours / var / theirs "
        "| p99 ms ours / var / theirs | CPU s per 1k req ours / var / theirs "
        "| stand-in alone req/s (headroom) |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in results["summary"]["cells"]:
        m = c["median"]
        ratio_t = _n(c.get("ours_over_theirs"), 1) + "×" if "ours_over_theirs" in c else "–"
        ratio_v = _n(c.get("ours_over_variant"), 1) + "×" if "ours_over_variant" in c else "–"
        p50 = " / ".join(_fig(m, g, "p50_ms", 2) for g in GATEWAYS)
        p99 = " / ".join(_fig(m, g, "p99_ms", 1) for g in GATEWAYS)
        cpu = " / ".join(_fig(m, g, "cpu_s_per_1k", 2) for g in GATEWAYS)
        headroom = c.get("standin_headroom")
        direct = _fig(m, "direct", "rps", 0) + (f" ({headroom:.1f}×)" if headroom else "")
        lines.append(
            f"| {c['scenario']} | {c['concurrency']} | {c['upstream']} "
            f"| {_fig(m, 'ours', 'rps', 0)} | {_fig(m, 'variant', 'rps', 0)} "
            f"| {_fig(m, 'theirs', 'rps', 0)} | {ratio_t} | {ratio_v} | {p50} | {p99} | {cpu} "
            f"| {direct} |"
        )
    return lines


def experiments_table(results: dict[str, Any]) -> list[str]:
    """req/s and p50 of our gateway's variants next to ours, per cell."""
    keys = [k for k in results["gateways"] if k not in GATEWAYS]
    if not keys:
        return []
    labels = " | ".join(results["gateways"][k]["label"] for k in keys)
    lines = [
        "## Experiments: variants of our gateway (req/s, p50 ms, and req/s ÷ ours)",
        "",
        f"| scenario | c | upstream | ours | {labels} |",
        "|---|--:|---|--:|" + "--:|" * len(keys),
    ]
    for c in results["summary"]["cells"]:
        m = c["median"]
        ours = m.get("ours", {}).get("rps")
        cols = []
        for k in keys:
            rps = m.get(k, {}).get("rps")
            ratio = f" ({rps / ours:.2f}×)" if rps and ours else ""
            cols.append(f"{_n(rps)} / {_fig(m, k, 'p50_ms', 2)}{ratio}")
        lines.append(
            f"| {c['scenario']} | {c['concurrency']} | {c['upstream']} "
            f"| {_n(ours)} / {_fig(m, 'ours', 'p50_ms', 2)} | " + " | ".join(cols) + " |"
        )
    return [*lines, ""]


def gateway_table(results: dict[str, Any]) -> list[str]:
    gws = results["gateways"]
    keys = list(gws)
    rows = [
        ("start to first healthy /health, ms", "healthy_ms", 0),
        ("idle RSS after start, MiB", "idle_fresh_mib", 1),
        ("idle RSS after warm-up requests, MiB", "idle_warm_mib", 1),
        ("peak RSS, zero-delay cells (c ≤ 64), MiB", "peak_zero_delay_mib", 1),
        ("peak RSS, 256 in flight behind 50 ms, MiB", "peak_256_mib", 1),
        ("PSS after the 256 cells, MiB", "pss_after_256_mib", 1),
        ("installed venv, MiB (du)", "venv_mib", 1),
        ("packages in the venv (as `pip list`)", "packages", 0),
        ("import of the app module, ms (net of interpreter)", "import_ms", 0),
    ]
    lines = [
        "| | " + " | ".join(gws[k]["label"] for k in keys) + " | ours/theirs |",
        "|---|" + "--:|" * (len(keys) + 1),
    ]
    for title, key, digits in rows:
        values = [gws[k].get(key) for k in keys]
        ratio = ""
        if "ours" in gws and "theirs" in gws and gws["theirs"].get(key):
            ratio = f"{gws['ours'][key] / gws['theirs'][key]:.2f}"
        lines.append(f"| {title} | " + " | ".join(_n(v, digits) for v in values) + f" | {ratio} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    mach = results["machine"]
    gws = results["gateways"]
    out = [
        "# Benchmark: gpt2giga (Granian + msgspec) vs the FastAPI gpt2giga 0.3.0",
        "",
        "Generated by `make bench` (`python -m benchmarks.run`); raw runs in `results.json`. "
        "Do not edit by hand.",
        "",
        f"- Date: {results['date']} ({results['mode']} mode, {results['seconds']:.0f} s): "
        f"`{results.get('command', 'python -m benchmarks.run')}`",
        f"- Machine: {mach['cpu']}, {mach['cores']} cores, {mach['memory_gib']} GiB, "
        f"Linux {mach['kernel']}, Python {mach['python']}",
        f"- Load: {results['wrk']}, one thread, Lua POST bodies; "
        f"{s['reps']} repetition(s) of {s['duration_s']} s per cell "
        f"({s.get('slow_duration_s', s['duration_s'])} s for 256 in flight) "
        f"(+{s['warmup_s']} s unmeasured warm-up), medians shown",
        f"- Pinning: each gateway (one worker) on core {s['gateway_cpu']}; wrk and the GigaChat "
        f"stand-in on core {s['load_cpu']}; the gateways, and the stand-in alone, take turns "
        "cell by cell in a rotating order",
        f"- Upstream: `benchmarks/standin.py` (GigaChat v1/v2 wire shapes), zero-delay, or "
        f"{s['ttfb_ms']:g} ms to first byte and {s['chunk_ms']:g} ms between stream chunks",
        "- Versions: "
        + "; ".join(
            f"{gws[k]['label']}: " + ", ".join(f"{n} {v}" for n, v in gws[k]["versions"].items())
            for k in GATEWAYS
            if k in gws
        ),
        "",
        "## Targets (issue 7)",
        "",
        "| target | measured | goal | met |",
        "|---|--:|--:|---|",
    ]
    for t in results["summary"]["targets"]:
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        out.append(f"| {t['name']} | {_n(t['value'], 2)} | {t['goal']} | {met} |")
    if any(t["met"] is False for t in results["summary"]["targets"]):
        out += [
            "",
            "Where a target is not met: by how much, why, and a profile of where the time "
            "goes, in [`PROFILE.md`](PROFILE.md).",
        ]
    out += ["", "## Throughput and latency per cell", "", *throughput_table(results), ""]
    added = [c for c in results["summary"]["cells"] if "added_p50_ms" in c]
    if added:
        out += ["Added p50 latency at c=1 (gateway p50 − stand-in p50), ms:", ""]
        for c in added:
            values = ", ".join(
                f"{k} {_n(c['added_p50_ms'].get(k), 2)}" for k in GATEWAYS if k in gws
            )
            out.append(f"- {c['scenario']}: {values}")
        out.append("")
    out += experiments_table(results)
    out += ["## Per gateway", "", *gateway_table(results), ""]
    out += ["Import time by top-level package (self time, ms, `-X importtime`):", ""]
    for k in gws:
        top = ", ".join(f"{n} {v:.0f}" for n, v in gws[k]["top_packages_ms"].items())
        out.append(f"- {gws[k]['label']}: {top}")
    broken = {k: g["broken"] for k, g in gws.items() if g.get("broken")}
    if broken:
        out += ["", "Scenarios a gateway failed or does not serve (not measured):", ""]
        out += [f"- {k} {sc}: {why}" for k, b in broken.items() for sc, why in b.items()]
    foreign = [r.get("foreign_core_share", 0.0) for r in results["runs"] if r["target"] != "direct"]
    drains = [r.get("drain_s", 0.0) for r in results["runs"] if r["target"] != "direct"]
    scen = "; ".join(f"{n}: {v['title']} ({v['bytes']} B)" for n, v in results["scenarios"].items())
    out += [
        "",
        "## Notes",
        "",
        f"- Scenarios: {scen}.",
        "- Everyone gets the same GIGACHAT_* environment (demo credentials, the stand-in's "
        "URLs, GIGACHAT_VERIFY_SSL_CERTS=False, GIGACHAT_MAX_CONNECTIONS=512 so no pool caps "
        "the 256-in-flight cells) and GPT2GIGA_LOG_LEVEL=WARNING (no access log).",
        "- Every gateway answers every scenario correctly before it is measured "
        "(content, tool call, `[DONE]`-terminated stream); `errors` counts socket errors, "
        "timeouts and non-2xx answers during the runs.",
        "- RSS and CPU are summed over the gateway's whole process tree (Granian's main "
        "process and its worker); CPU is utime+stime from /proc during the measured run.",
        '- "variant" is `benchmarks/fastapi_variant.py`: our translators and GigaChat client '
        "in FastAPI + uvicorn (uvloop, httptools) with pydantic request models. It mounts "
        "the OpenAI chat route only, enough to compare the stacks; the other dialects' "
        "scenarios get its 404.",
        "- The stand-in alone column is wrk straight to the stand-in with the same body and "
        "concurrency; its ratio to the fastest gateway shows the stand-in is not the limit.",
        "- wrk 4.1 corrects latency for coordinated omission, which inflates p99 on a "
        "shared core; p50 is the robust figure.",
        f"- Other processes on the gateways' core during the runs (share of the core, "
        f"median / max over runs): {statistics.median(foreign or [0]):.0%} / "
        f"{max(foreign or [0]):.0%}. The alternation keeps the ratios fair; absolute "
        "figures move with it.",
        f"- After every run the harness waits until the gateway is idle again (it may still "
        f"work through requests wrk abandoned) before the next one starts: median / max "
        f"{statistics.median(drains or [0]):.2f} / {max(drains or [0]):.1f} s.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results.json")
    data = json.loads(source.read_text())
    data["summary"] = summarize(data)
    (source.parent / "RESULTS.md").write_text(markdown(data))
