"""Personal data in any text field: e-mail, phone, credit card, IP address, IBAN.

Regexes find candidates; checksums confirm the ones that have them (Luhn for
cards, ISO 7064 mod-97 for IBANs) so that order numbers and ISBNs are not
called cards. Each kind is redacted (replaced by a tag such as ``[EMAIL]``),
dropped, flagged, or ignored, by config.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import polars as pl

from harness.config import DataKind, PiiConfig
from harness.data.rejects import StepResult, as_rejects, count_reasons
from harness.data.schema import TEXT_FIELDS


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _card(match: str) -> bool:
    """Issuer numbers start with 2-6; binary strings and zero-padded ids are not cards."""
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and not set(digits) <= {"0", "1"} and luhn_valid(digits)


def _phone(match: str) -> bool:
    """Space-separated digit groups are phones only with a +, (area) or leading 0: "2019 2020 2021" is not."""
    if not 9 <= len(re.sub(r"\D", "", match)) <= 15:
        return False
    return match.startswith(("+", "(", "0")) or "(" in match or bool(re.search(r"\d[-.]\d", match))


def _ip(match: str) -> bool:
    try:
        ipaddress.ip_address(match)
    except ValueError:
        return False
    return True


# Scanned in this order; a span found by one kind is hidden from the later ones
# (a card number is not also a phone number).
DETECTORS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "email": (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), lambda m: True),
    "iban": (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), iban_valid),
    "credit_card": (re.compile(r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d.])"), _card),
    "ip_address": (
        re.compile(r"(?<![\w.:])(?:(?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4})(?![\w.:])"),
        _ip,
    ),
    "phone": (
        re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{4}(?!\w)"),
        _phone,
    ),
}
TAGS = {kind: f"[{kind.upper()}]" for kind in DETECTORS}
# Cheap necessary conditions per kind, run by polars over all rows, so that Python
# scans only rows that can hold that kind (on real data: 1 row in 10, not every
# row with a digit).
PREFILTERS = {
    "email": r"@",
    "iban": r"[A-Z]{2}\d{2}",
    "credit_card": r"\d(?:[ -]?\d){12}",
    "ip_address": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",
    "phone": r"\d{3,4}[ .-]\d{4}",
}


def scan_text(text: str, actions: dict[str, str]) -> tuple[str, list[str]]:
    """(text with redact-kinds replaced, kinds found). Kinds set to 'ignore' are not scanned."""
    found: list[str] = []
    hidden: list[str] = []

    def hide(match: re.Match[str], kind: str) -> str:
        if not DETECTORS[kind][1](match.group(0)):
            return match.group(0)
        if kind not in found:
            found.append(kind)
        if actions[kind] == "redact":
            return TAGS[kind]
        hidden.append(match.group(0))
        return f"\ue000{len(hidden) - 1}\ue001"

    for kind, (pattern, _) in DETECTORS.items():
        if actions[kind] != "ignore":
            text = pattern.sub(lambda m, k=kind: hide(m, k), text)
    if hidden:
        text = re.sub("\ue000(\\d+)\ue001", lambda m: hidden[int(m.group(1))], text)
    return text, found


def scan_column(values: pl.Series, actions: dict[str, str]) -> tuple[pl.Series, pl.DataFrame]:
    """(texts with redactions, frame of row index and kinds for the rows that hold any).

    Rows that match no kind's prefilter skip Python.
    """
    prefilter = "|".join(f"(?:{PREFILTERS[kind]})" for kind, action in actions.items() if action != "ignore")
    rows = values.str.contains(prefilter).fill_null(False).arg_true()
    scanned = [scan_text(text, actions) for text in values.gather(rows).to_list()]
    found = pl.DataFrame(
        {"_row": rows, "_pii": [kinds for _, kinds in scanned]},
        schema={"_row": pl.get_index_type(), "_pii": pl.List(pl.String)},
    ).filter(pl.col("_pii").list.len() > 0)
    if not scanned:
        return values, found
    return values.scatter(rows, pl.Series([text for text, _ in scanned], dtype=pl.String)), found


def _attach_kinds(frame: pl.DataFrame, found: list[pl.DataFrame]) -> pl.DataFrame:
    """Add ``_pii``: the distinct kinds found in any scanned field of each row ([] if none)."""
    per_row = (
        pl.concat(found)
        .explode("_pii")
        .group_by("_row")
        .agg(pl.col("_pii").unique(maintain_order=True))
    )
    return (
        frame.with_row_index("_row")
        .join(per_row, on="_row", how="left", maintain_order="left")
        .with_columns(pl.col("_pii").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("_row")
    )


def find_pii(frame: pl.DataFrame, *, kind: DataKind, config: PiiConfig) -> StepResult:
    actions = config.model_dump()
    if all(a == "ignore" for a in actions.values()) or frame.is_empty():
        return StepResult(kept=frame, stats={"found": {}})
    if kind == "chat":
        contents = frame.select("row_id", pl.col("messages")).explode("messages").unnest("messages")
        texts, found = scan_column(contents["content"], actions)
        contents = _attach_kinds(contents.with_columns(texts.alias("content")), [found]).rename({"_pii": "_k"})
        per_row = contents.group_by("row_id", maintain_order=True).agg(
            pl.struct("role", "content").alias("messages"), pl.col("_k").explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True).alias("_pii")
        )
        frame = frame.drop("messages").join(per_row, on="row_id", how="left", maintain_order="left")
    else:
        found_per_field = []
        for field in TEXT_FIELDS[kind]:
            texts, found = scan_column(frame[field], actions)
            frame = frame.with_columns(texts.alias(field))
            found_per_field.append(found)
        frame = _attach_kinds(frame, found_per_field)
    exploded = frame.select(pl.col("_pii").explode().drop_nulls())
    found = dict(sorted(exploded.group_by("_pii").len().iter_rows())) if exploded.height else {}
    drop_kinds = [k for k, a in actions.items() if a == "drop"]
    flag_kinds = [k for k, a in actions.items() if a == "flag"]
    should_drop = pl.col("_pii").list.set_intersection(pl.lit(drop_kinds, dtype=pl.List(pl.String))).list.len() > 0
    flagged = pl.col("_pii").list.set_intersection(pl.lit(flag_kinds, dtype=pl.List(pl.String)))
    frame = frame.with_columns(
        pl.concat_list(pl.col("flags"), flagged.list.eval(pl.lit("pii:") + pl.element())).alias("flags")
    )
    dropped = frame.filter(should_drop)
    reason = pl.lit("pii_") + pl.col("_pii").list.set_intersection(pl.lit(drop_kinds, dtype=pl.List(pl.String))).list.first()
    rejects = as_rejects(dropped, step="pii", reason=reason, detail=pl.col("_pii").list.join(", ")) if dropped.height else None
    kept = frame.filter(~should_drop).drop("_pii")
    result = StepResult(kept=kept, stats={"found": found, "actions": actions})
    if rejects is not None:
        result.rejects = rejects
        result.stats["dropped"] = count_reasons(rejects)
    return result
