"""The iteration report as Markdown, a self-contained HTML page with inline SVG plots, and JSON.

Plots are drawn by matplotlib into SVG text placed in the page (no CDN, no
files beside it). Every piece of user text (prompts, predictions, group names,
topics) is escaped, in the HTML and inside the SVG.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.eval.categories import CATEGORIES  # noqa: E402

BAR_METRICS = ("token_f1", "rougeL", "exact_match")


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def loss_plot(log: list[dict]) -> str | None:
    train = [(r["step"], r["loss"]) for r in log if "loss" in r]
    evaluation = [(r["step"], r["eval_loss"]) for r in log if "eval_loss" in r]
    if not train:
        return None
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.plot(*zip(*train, strict=True), label="train loss")
    if evaluation:
        axis.plot(*zip(*evaluation, strict=True), marker="o", label="validation loss")
    axis.set_xlabel("step")
    axis.legend()
    return _svg(figure)


def metric_bars(evaluation: dict) -> str:
    models = list(evaluation["models"])
    figure, axis = plt.subplots(figsize=(6, 3))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        metrics = evaluation["models"][model]["metrics"]
        values = [metrics[m]["value"] for m in BAR_METRICS]
        errors = [[v - metrics[m]["ci_low"] for m, v in zip(BAR_METRICS, values, strict=True)],
                  [metrics[m]["ci_high"] - v for m, v in zip(BAR_METRICS, values, strict=True)]]
        axis.bar([x + i * width for x in range(len(BAR_METRICS))], values, width, yerr=errors, label=model, capsize=3)
    axis.set_xticks([x + width * (len(models) - 1) / 2 for x in range(len(BAR_METRICS))], BAR_METRICS)
    axis.set_ylim(0, 1)
    axis.legend()
    return _svg(figure)


def categories_plot(history: list[tuple[str, dict]]) -> str:
    figure, axis = plt.subplots(figsize=(6, 3))
    for category in CATEGORIES:
        counts = [h["categories"].get(category, {}).get("count", 0) for _, h in history]
        if any(counts):
            axis.plot([name for name, _ in history], counts, marker="o", label=category)
    axis.set_ylabel("answers")
    axis.legend(fontsize=7, ncols=2)
    return _svg(figure)


def group_plot(groups: dict, score: str = "token_f1") -> str | None:
    attributes = {a: v[score]["by_group"] for a, v in groups.items() if score in v}
    if not attributes:
        return None
    figure, axes = plt.subplots(1, len(attributes), figsize=(3 * len(attributes) + 1, 3), squeeze=False)
    for axis, (attribute, values) in zip(axes[0], attributes.items(), strict=True):
        axis.bar(list(values), list(values.values()))
        axis.set_title(f"{score} by {attribute}", fontsize=9)
        axis.set_ylim(0, 1)
        axis.tick_params(axis="x", labelrotation=30, labelsize=7)
    return _svg(figure)


def _e(value: object) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value, default=str), quote=True)


def render_markdown(report: dict) -> str:
    lines = [f"# {report['project']}: iteration {report['iteration']}", ""]
    comparison = report.get("comparison")
    if comparison and comparison["regressions"]:
        lines += ["**Regressions since the previous iteration:** " + ", ".join(comparison["regressions"]), ""]
    gate = report["gate"]
    lines += [f"Gate: {'PASS' if gate['passed'] else 'FAIL'}{' (forced)' if gate['forced'] else ''}; "
              f"{report['data']['rows_kept']} rows kept of {report['data']['rows_read']}.", ""]
    if report.get("eval"):
        lines += ["## Metrics", "", "| metric | " + " | ".join(report["eval"]["models"]) + " |",
                  "|---|" + "---|" * len(report["eval"]["models"])]
        for metric in BAR_METRICS + ("sacrebleu", "chrf"):
            cells = []
            for model in report["eval"]["models"].values():
                m = model["metrics"].get(metric)
                cells.append(f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" if m else "")
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    if comparison:
        lines += [f"## Compared with iteration {comparison['previous']}", "",
                  f"{comparison['paired_examples']} test examples in both.", "", "| item | before | now | status |",
                  "|---|---|---|---|"]
        for score, v in comparison["scores"].items():
            lines.append(f"| {score} | {v['before']:.3f} | {v['now']:.3f} | {v['status']} |")
        for task, v in comparison.get("benchmarks", {}).items():
            lines.append(f"| benchmark {task} ({v['metric']}) | {v['before']:.3f} | {v['now']:.3f} | {v['status']} |")
        for category, v in comparison["categories"].items():
            if v["before"] or v["now"]:
                lines.append(f"| {category} | {v['before']} | {v['now']} | {v['status']} (p={v['p_value']:.3f}) |")
        lines += ["", f"Wrong to right: {len(comparison['flips']['wrong_to_right'])}; "
                      f"right to wrong: {len(comparison['flips']['right_to_wrong'])}.", ""]
    targeted = report["targeted"]
    lines += ["## Failures", "", f"{targeted['failures']} of {targeted['evaluated']} answers have an error category.", ""]
    for c in targeted["categories"]:
        lines.append(f"- **{c['category']}**: {c['count']} ({c['rate']:.0%})")
    if targeted["slices"]:
        lines += ["", "## Weak slices", ""]
        for s in targeted["slices"]:
            lines.append(f"- {s['attribute']} = {s['group']}: token F1 {s['mean_token_f1']:.2f} "
                         f"(overall {s['overall_token_f1']:.2f}), {s['failure_rate']:.0%} fail "
                         f"(overall {s['overall_rate']:.0%})")
    if targeted["topics"]:
        lines += ["", "## Failing topics", ""]
        for t in targeted["topics"]:
            lines.append(f"- {t['topic']}: {t['failures']} failures")
    lines += ["", "## Data to collect next", ""]
    for r in targeted["requests"]:
        lines.append(f"- **{r['id']}** add about {r['add_examples']} examples: {r['why']}")
    if not targeted["requests"]:
        lines.append("Nothing: no failing answers.")
    lines += ["", "The failing prompts and their nearest training examples are in `data_requests.jsonl`.", ""]
    return "\n".join(lines)


def render_html(report: dict, plots: dict[str, str]) -> str:
    """The Markdown's content as HTML, with the plots inline; every user string escaped."""
    body: list[str] = []
    table: list[list[str]] = []
    items: list[str] = []

    def flush() -> None:
        if table:
            head = "".join(f"<th>{_e(c)}</th>" for c in table[0])
            rows = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in table[1:])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
            table.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in render_markdown(report).splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        if line.startswith("- "):
            items.append(line[2:].replace("**", ""))
            continue
        flush()
        if line.startswith("# "):
            body.append(f"<h1>{_e(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_e(line[3:])}</h2>")
        elif line:
            body.append(f"<p>{_e(line.replace('**', ''))}</p>")
    flush()
    examples = []
    for c in report["targeted"]["categories"]:
        for ex in c["examples"]:
            examples.append(f"<tr><td>{_e(c['category'])}</td><td>{_e(ex['prompt_text'])}</td>"
                            f"<td>{_e(ex['prediction'])}</td><td>{_e(ex['reference'])}</td></tr>")
    if examples:
        body.append("<h2>Examples</h2><table><tr><th>category</th><th>input</th><th>prediction</th><th>reference</th></tr>"
                    + "".join(examples) + "</table>")
    figures = "".join(f"<figure>{svg}<figcaption>{_e(name)}</figcaption></figure>" for name, svg in plots.items())
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top;text-align:left}figure{display:inline-block;margin:1rem}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(report['project'])} report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}<h2>Plots</h2>{figures}</body></html>\n")


def write_report(report: dict, plots: dict[str, str], folder: Path) -> dict[str, Path]:
    from harness.io.writers import write_json, write_text

    paths = {"markdown": folder / "report.md", "html": folder / "report.html", "json": folder / "report.json"}
    write_text(render_markdown(report), paths["markdown"])
    write_text(render_html(report, plots), paths["html"])
    write_json({k: v for k, v in report.items() if k != "data_requests"}, paths["json"])
    return paths
