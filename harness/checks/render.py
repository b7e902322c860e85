"""A self-contained HTML page of a check verdict. Every value is HTML-escaped:
descriptions, column names, group names and example rows all come from users."""

from __future__ import annotations

import html
import json
from pathlib import Path

from harness.io.writers import write_text

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
.pass{color:#176f2c}.fail{color:#b00020}.warn{color:#8a5a00}.mono{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap}
"""


def _e(value: object) -> str:
    if not isinstance(value, str):
        value = json.dumps(value, default=str)
    return html.escape(value, quote=True)


def _status(check: dict) -> str:
    if check["success"]:
        return '<span class="pass">pass</span>'
    return '<span class="fail">FAIL</span>' if check["severity"] == "critical" else '<span class="warn">fail</span>'


def render(verdict: dict) -> str:
    verdict_line = (
        '<p class="pass">All critical checks pass: training may start.</p>' if verdict["passed"]
        else ('<p class="warn">Critical checks FAIL; training was allowed by --force (recorded).</p>' if verdict["forced"]
              else '<p class="fail">Critical checks FAIL: training is blocked.</p>')
    )
    rows = []
    for check in sorted(verdict["checks"], key=lambda c: (c["success"], c["severity"] != "critical")):
        examples = "".join(
            f"<div class='mono'>row {_e(i)}: {_e(verdict['examples'].get(str(i), {}).get('prompt', ''))}</div>"
            for i in check["example_row_ids"]
        )
        rows.append(
            f"<tr><td>{_status(check)}</td><td>{_e(check['severity'])}</td><td>{_e(check['suite'])}</td>"
            f"<td>{_e(check['description'])}</td><td class='mono'>{_e(check['observed_text'])}</td>"
            f"<td>{examples}</td></tr>"
        )
    bias_rows = []
    for attribute, entry in verdict["bias"].get("attributes", {}).items():
        for group, values in entry["groups"].items():
            bias_rows.append(f"<tr><td>{_e(attribute)}</td><td>{_e(group)}</td><td>{_e(values['count'])}</td>"
                             f"<td>{_e(values['share'])}</td><td>{_e(values.get('outcome_rate', ''))}</td></tr>")
    bias_table = (
        "<h2>Groups</h2><table><tr><th>attribute</th><th>group</th><th>rows (train)</th><th>share</th>"
        "<th>outcome rate</th></tr>" + "".join(bias_rows) + "</table>" if bias_rows else ""
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>harness check</title>"
        f"<style>{_STYLE}</style></head><body><h1>harness check</h1>{verdict_line}"
        f"<p>{_e(verdict['rows'])} rows in {_e(verdict['data_dir'])}; {_e(verdict['critical_failures'])} critical "
        f"failure(s), {_e(verdict['warnings'])} warning(s).</p>"
        "<table><tr><th>result</th><th>severity</th><th>suite</th><th>check</th><th>observed</th><th>examples</th></tr>"
        + "".join(rows) + "</table>" + bias_table + "</body></html>\n"
    )


def write_html(verdict: dict, path: Path) -> None:
    write_text(render(verdict), path)
