"""The benchmark's results as JSON, a Markdown table (targets beside figures) and a plot."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def previous(folder: Path, name: str) -> dict[str, Any] | None:
    """The latest earlier results file, to compare with."""
    earlier = sorted(path for path in folder.glob("20*.json") if path.name < name)
    return json.loads(earlier[-1].read_text()) if earlier else None


def safely(pick: Any, data: dict[str, Any]) -> str:
    """The figure, or "failed" where its scenario did not finish (see the JSON's error)."""
    try:
        return str(pick(data))
    except (KeyError, TypeError):
        return "failed"


def rows(results: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    sizes = results["sizes"]

    def each(pick: Any) -> list[str]:
        return [safely(pick, sizes[size]) for size in sizes]

    poll = results["settings"]["poll_interval"]
    return [
        (
            "all ARNs set after N applied at once",
            "≤ 30 s at 1000",
            each(lambda s: fmt(s["in_flight"]["all_arns_seconds"], " s", 1)),
        ),
        (
            "apply → ARN under that load, p50 / p99",
            "-",
            each(
                lambda s: (
                    f"{fmt(s['in_flight']['apply_to_arn_seconds']['p50'], ' s')} / "
                    f"{fmt(s['in_flight']['apply_to_arn_seconds']['p99'], ' s')}"
                )
            ),
        ),
        (
            "ListTrainingJobs calls / bound (ticks + changes ÷ 100 + 10 %) / the same bound "
            "counting each job's creation as a change",
            "≤ bound",
            each(
                lambda s: (
                    f"{s['lifecycle']['list_calls']} / {s['lifecycle']['list_bound']:.0f} / "
                    f"{s['lifecycle']['list_bound_with_creations']:.0f}"
                )
            ),
        ),
        (
            "tracking tick, mean",
            "-",
            each(lambda s: fmt(s["lifecycle"]["tick_seconds_mean"], " s", 1)),
        ),
        (
            "DescribeTrainingJob calls / finished jobs",
            "1 per finished job",
            each(
                lambda s: f"{s['lifecycle']['describe_calls']} / {s['lifecycle']['finished_jobs']}"
            ),
        ),
        (
            "a per-job 30 s poller would call",
            "-",
            each(lambda s: f"{s['lifecycle']['per_job_30s_poller_calls']:.0f}"),
        ),
        ("status changes seen", "-", each(lambda s: str(s["lifecycle"]["status_changes"]))),
        (
            "status lag p50 / p99",
            f"p99 ≤ {poll + 1:g} s",
            each(
                lambda s: (
                    f"{fmt(s['lifecycle']['status_lag_seconds']['p50'], ' s', 1)} / "
                    f"{fmt(s['lifecycle']['status_lag_seconds']['p99'], ' s', 1)}"
                )
            ),
        ),
        (
            "calls after every job finished",
            "0",
            each(lambda s: str(sum(s["lifecycle"]["calls_after_all_finished"].values()))),
        ),
        (
            "operator memory (RSS / peak)",
            "≤ 80 MB at 100, ≤ 150 MB at 2000",
            each(
                lambda s: (
                    f"{s['in_flight']['memory']['rss_mb']:.0f} / "
                    f"{s['in_flight']['memory']['peak_rss_mb']:.0f} MB"
                )
            ),
        ),
        (
            "operator CPU, steady state",
            "≤ 5 % at 1000",
            each(lambda s: fmt(100 * s["in_flight"]["steady_cpu_share_of_one_core"], " %", 1)),
        ),
        (
            "restart → every in-flight job tracked",
            "≤ 30 s at 2000",
            each(lambda s: fmt(s["in_flight"]["restart_seconds"], " s", 1)),
        ),
        (
            "CreateTrainingJob calls after the restart",
            "0",
            each(lambda s: str(s["in_flight"]["creates_after_restart"])),
        ),
    ]


def _deletion_line(results: dict[str, Any]) -> list[str]:
    deletion = results.get("deletion")
    if deletion is None:
        return []
    if "error" in deletion:
        return [f"- deletion: failed ({deletion['error']})"]
    return [
        f"- deletion, {deletion['jobs']} running jobs deleted at once, the operator's default "
        f"settings: every resource gone in {deletion['all_gone_seconds']:.1f} s (target ≤ "
        f"15 s; ACK 35.7 s), SageMaker calls {deletion['calls']} (target: one "
        "StopTrainingJob per job, no ListTags)"
    ]


def _endings_line(results: dict[str, Any]) -> list[str]:
    endings = results.get("endings")
    if endings is None:
        return []
    if "error" in endings:
        return [f"- endings: failed ({endings['error']})"]
    end, other = endings["end_lag_seconds"], endings["other_lag_seconds"]
    low, high = endings["duration_seconds"]
    return [
        f"- endings, {endings['jobs']} jobs of {low:.0f}-{high:.0f} s, the operator's default "
        f"settings: status lag p50 / p99 of endings {fmt(end['p50'], ' s')} / "
        f"{fmt(end['p99'], ' s')} ({end['count']}), of the other changes "
        f"{fmt(other['p50'], ' s')} / {fmt(other['p99'], ' s')} ({other['count']}) (target: "
        f"endings no worse); calls while they ran {endings['calls_while_running']}; CPU "
        f"{endings['cpu_seconds_while_running']:.1f} s; RSS "
        f"{endings['memory']['rss_mb']:.0f} MB"
    ]


def _drain_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    drain = results.get("drain")
    if drain is not None and "error" in drain:
        lines.append(f"- drain: failed ({drain['error']})")
    elif drain is not None:
        raw = drain["raw"]
        lines.append(
            f"- drain, {drain['jobs']} jobs changing together: the apiserver takes "
            f"{raw['patches']['per_second']:g} status patches/s alone, "
            f"{raw['patches_with_events']['per_second']:g}/s each after its Event (raw drain "
            f"{drain['raw_drain_seconds']:.1f} s / {drain['raw_drain_with_events_seconds']:.1f}"
            f" s); the operator's writes, first to last: "
            f"{drain['first_to_last_write_seconds']:.1f} s, "
            f"{drain['drain_ratio']:.2f} / {drain['drain_ratio_with_events']:.2f} times the raw "
            "drain (target 1.2)"
        )
    for key in ("paced", "paced_events"):
        paced = results.get(key)
        if paced is None:
            continue
        if "error" in paced:
            lines.append(f"- {key}: failed ({paced['error']})")
            continue
        lag = paced["status_lag_seconds"]
        lines.append(
            f"- {paced['jobs']} jobs changing at {paced['share_of_raw_capacity']:.0%} of that "
            f"capacity ({paced['changes_per_second']:.0f}/s), {paced['mode']}: status lag p50 "
            f"/ p99 {fmt(lag['p50'], ' s')} / {fmt(lag['p99'], ' s')} over {lag['count']} "
            f"changes (target p99 ≤ {paced['target_p99_seconds']:g} s)"
        )
    return lines


def markdown(results: dict[str, Any], before: dict[str, Any] | None) -> str:
    sizes = list(results["sizes"])
    machine = results["machine"]
    single = results["single"].get("apply_to_arn_seconds",
                                    {"count": 0, "p50": None, "p99": None})  # fmt: skip
    first_apply = results["single"].get("first_apply_after_start")
    storms = results["storm"] if isinstance(results["storm"], list) else [results["storm"]]
    storm_lines = [
        (
            f"- create storm, the emulator allowing {storm['quota_per_second']:g} creates/s: "
            f"{storm['jobs']} jobs in {storm['seconds']:.0f} s, CreateTrainingJob outcomes "
            f"{storm['create_outcomes']}, {storm['calls_per_job']:.2f} calls per job "
            "(target: all created, ≤ 1.2)"
        )
        if "error" not in storm
        else f"- create storm: failed ({storm['error']})"
        for storm in storms
    ]
    burst = results.get("burst", {"error": "not run"})
    burst_line = (
        (
            f"- burst, {burst['jobs']} applied at once, the operator's default settings: "
            f"every ARN in {burst['all_arns_seconds']:.1f} s, apply → ARN p50 "
            f"{fmt(burst['apply_to_arn_seconds']['p50'], ' s')} / p99 "
            f"{fmt(burst['apply_to_arn_seconds']['p99'], ' s')} (target p99 ≤ 4 s), "
            f"{burst['create_calls']} CreateTrainingJob calls"
        )
        if "error" not in burst
        else f"- burst: failed ({burst['error']})"
    )
    event_lines = [*_deletion_line(results), *_endings_line(results), *_drain_lines(results)]
    for key, run in results.get("events", {}).items():
        if "error" in run:
            event_lines.append(f"- event mode, {key}: failed ({run['error']})")
            continue
        lag = run["status_lag_seconds"]
        event_lines.append(
            f"- event mode, {run['jobs']} jobs, {run['dropped_share']:.0%} of the events "
            f"lost: every job ended in {run['seconds']:.0f} s; status lag p50 / p99 "
            f"{fmt(lag['p50'], ' s')} / {fmt(lag['p99'], ' s')} over {lag['count']} changes "
            f"(target p99 ≤ 2 s with none lost); ListTrainingJobs {run['list_calls']} calls in "
            f"{run['list_ticks']:.0f} ticks (the first, then one per 300 s); DescribeTrainingJob "
            f"{run['describe_calls']}; SQS {run['sqs_calls']}; idle: "
            f"{run['idle_sqs_calls_per_minute']:.1f} SQS calls a minute (target ≤ 3) and "
            f"{run['idle_sagemaker_calls']} SageMaker calls in {run['idle_seconds']:.0f} s; "
            f"RSS {run['memory']['rss_mb']:.0f} MB"
        )
    history = results.get("history", {"error": "not run"})
    history_line = (
        (
            f"- a mature account ({history['old_jobs']} finished jobs, lists filtered after "
            f"paging), {history['jobs']} jobs through their lifecycle in "
            f"{history['seconds']:.0f} s: {history['list_calls']} ListTrainingJobs calls over "
            f"{history['ticks']:.0f} ticks, at most {history['max_pages_per_tick_at_most']:g} "
            f"a tick (target ≤ {history['target_pages_per_tick']}; "
            f"{history['ticks_within_target']:.0f} of {history['ticks']:.0f} ticks within it). "
            f"Unbounded, the ticks would have read "
            f"{history['list_calls_without_the_bound']:.0f} pages"
        )
        if "error" not in history
        else f"- mature account: failed ({history['error']})"
    )
    lines = [
        f"# Operator benchmark, {results['date'][:10]}",
        "",
        f"{machine['cores']} cores, {machine['memory_gib']} GiB; Python {machine['python']}, "
        f"Kubernetes {machine['kubernetes']}, etcd {machine['etcd']}, kopf "
        f"{machine['packages']['kopf']}, boto3 {machine['packages']['boto3']}. Poll interval "
        f"{results['settings']['poll_interval']:g} s, lifecycle window "
        f"{results['settings']['window']:g} s, operator create/describe limit "
        f"{results['settings']['create_rate']}/s.",
        "",
        f"- apply → `status.trainingJobArn`, one job at a time ({single['count']} runs): "
        f"p50 {fmt(single['p50'], ' s')}, p99 {fmt(single['p99'], ' s')} "
        "(target ≤ 0.3 s / ≤ 1 s); the first apply after the operator started, while "
        f"its watch was being established: {fmt(first_apply, ' s')}",
        burst_line,
        *storm_lines,
        *event_lines,
        history_line,
        "",
        "| figure | target | " + " | ".join(f"N = {size}" for size in sizes) + " |",
        "|---|---|" + "---|" * len(sizes),
    ]
    lines += [
        f"| {name} | {target} | " + " | ".join(values) + " |"
        for name, target, values in rows(results)
    ]
    if before is not None:
        then = before["single"].get("apply_to_arn_seconds", {"p50": None, "p99": None})
        lines += [
            "",
            f"Compared with {before['date'][:10]}: single apply → ARN p50 "
            f"{fmt(then['p50'], ' s')} → {fmt(single['p50'], ' s')}, p99 "
            f"{fmt(then['p99'], ' s')} → {fmt(single['p99'], ' s')}.",
        ]
        for size in sizes:
            if size not in before.get("sizes", {}):
                continue
            old, new = before["sizes"][size], results["sizes"][size]
            with contextlib.suppress(KeyError, TypeError):  # a failed scenario: no comparison
                lines.append(
                    f"- N = {size}: all ARNs {fmt(old['in_flight']['all_arns_seconds'], ' s', 1)}"
                    f" → {fmt(new['in_flight']['all_arns_seconds'], ' s', 1)}; RSS "
                    f"{old['in_flight']['memory']['rss_mb']:.0f} → "
                    f"{new['in_flight']['memory']['rss_mb']:.0f} MB; List calls "
                    f"{old['lifecycle']['list_calls']} → {new['lifecycle']['list_calls']}"
                )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    sizes = [int(size) for size in results["sizes"]]
    sizes = [size for size in sizes if not any("error" in results["sizes"][str(size)][part]
                                              for part in ("in_flight", "lifecycle"))]  # fmt: skip
    data = [results["sizes"][str(size)] for size in sizes]
    figure, (times, calls) = plt.subplots(1, 2, figsize=(12, 4.5))
    series: list[tuple[Any, str, str, Callable[[dict[str, Any]], float]]] = [
        (times, "all ARNs after N applied", "o-", lambda d: d["in_flight"]["all_arns_seconds"]),
        (times, "restart → all tracked", "s-", lambda d: d["in_flight"]["restart_seconds"]),
        (times, "status lag p99", "^-",
         lambda d: d["lifecycle"]["status_lag_seconds"]["p99"] or 0),
        (calls, "ListTrainingJobs", "o-", lambda d: d["lifecycle"]["list_calls"]),
        (calls, "DescribeTrainingJob", "s-", lambda d: d["lifecycle"]["describe_calls"]),
        (calls, "a per-job 30 s poller", "--",
         lambda d: d["lifecycle"]["per_job_30s_poller_calls"]),
    ]  # fmt: skip
    for axes, label, style, pick in series:
        axes.plot(sizes, [pick(d) for d in data], style, label=label)
    times.set(xscale="log", xlabel="TrainingJobs", ylabel="seconds", title="Latency")
    times.legend()
    calls.set(
        xscale="log",
        yscale="log",
        xlabel="TrainingJobs",
        ylabel="calls in the window",
        title="SageMaker read calls per lifecycle window",
    )
    calls.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(results: dict[str, Any], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = results["date"][:10]
    if (folder / f"{stem}.json").exists():  # a second run that day: keep the first
        stem = results["date"][:16].replace(":", "")
    json_path, md_path, png_path = (folder / f"{stem}.{ext}" for ext in ("json", "md", "png"))
    before = previous(folder, json_path.name)
    json_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    md_path.write_text(markdown(results, before))
    plot(results, png_path)
    return [str(json_path), str(md_path), str(png_path)]
