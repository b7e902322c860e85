"""Rules for the defect classes AlpacaDataCleaned found in generated instruction data.

A rule can only catch what shows in the text: merged instructions, prompts
that need a URL, image or attachment the model cannot see, image-generation
requests, code tasks with the code missing, and stray escape sequences. Wrong
math answers and unclear instructions need a model or a person and are left
to evaluation. Each class is dropped, flagged or ignored by config.
"""

from __future__ import annotations

import polars as pl

from harness.config import DefectConfig, DataKind
from harness.data.rejects import StepResult, as_rejects, count_reasons

_MEDIA = r"(?:image|picture|photo(?:graph)?|video|audio|recording|painting|drawing|chart|graph|diagram|screenshot|map)"
PATTERNS: dict[str, dict[str, str]] = {
    # "...\n##\n18. Instruction: Identify ..." or a second "### Instruction:" inside the answer.
    "merged_instructions": {
        "response_text": r"(?im)^\s*(?:#{1,3}\s*)?(?:\d{1,3}\.\s*)?instruction\s*:",
        "prompt_text": r"(?im)^\s*#{0,3}\s*\d{1,3}\.\s*instruction\s*:",
    },
    "needs_external_content": {
        "prompt_text": (
            r"(?i)(?:^|\n)\s*(?:https?://|www\.)\S+\s*$"
            r"|<\s*" + _MEDIA + r"[^>]*>"
            r"|\battached\s+" + _MEDIA + r"\b"
            r"|\b(?:this|the following|the given|the attached|the above|the below|below|above)\s+"
            + _MEDIA + r"s?\b"
            r"|\b(?:the|this|given|following)\s+(?:url|link|website|web ?page|web site)\b"
        ),
    },
    "image_generation": {
        "prompt_text": (
            r"(?i)^\s*(?:please\s+)?(?:create|generate|draw|design|make|produce|sketch|paint|render)\b[^.\n]{0,40}?\b"
            r"(?:image|picture|logo|graphic|drawing|illustration|painting|sketch|photo|poster|infographic|icon|artwork)s?\b"
        ),
    },
    "stray_escapes": {
        "response_text": r"\\[nrt\"]",
        "prompt_text": r"\\[nrt\"]",
    },
}
# Only code the instruction says it gives ("the following code", "this program",
# "the snippet below"), not code it asks for ("Write the code to ...").
_CODE_NOUN = r"(?:code|program|script|snippet|function|query|sql statement|html|css|algorithm)"
_CODE_REFERENCE = (
    r"(?i)\b(?:the following|this|these|the given|the provided|the above|given|provided|following)\s+"
    r"(?:[\w+#]+\s+)?" + _CODE_NOUN + r"s?\b"
    r"|\b" + _CODE_NOUN + r"\s+(?:below|above)\b"
)
_CODE_CHARS = r"[{}();=<>\[\]`]|\bdef |\breturn\b|\bSELECT\b"


def _rule(name: str, kind: DataKind) -> pl.Expr:
    if name == "missing_code":
        if kind != "instruction":
            return pl.lit(False)
        return (
            pl.col("instruction").str.contains(_CODE_REFERENCE)
            & (pl.col("input").str.strip_chars() == "")
            & ~pl.col("instruction").str.contains(_CODE_CHARS)
        )
    if name == "stray_escapes":
        # A literal backslash-n in code is legitimate; only flag text without code markers.
        no_code = ~pl.col("response_text").str.contains(_CODE_CHARS)
        hits = [pl.col(c).str.contains(p) for c, p in PATTERNS[name].items()]
        return pl.any_horizontal(hits) & no_code
    return pl.any_horizontal(pl.col(c).str.contains(p) for c, p in PATTERNS[name].items())


def find_defects(frame: pl.DataFrame, *, kind: DataKind, config: DefectConfig) -> StepResult:
    """Drop or flag rows by defect class; the first matching class names a dropped row."""
    if kind == "classification":
        return StepResult(kept=frame, stats={"found": {}})
    actions = config.model_dump()
    names = [n for n, action in actions.items() if action != "ignore"]
    hit = {n: f"_{n}" for n in names}
    frame = frame.with_columns(_rule(n, kind).fill_null(False).alias(hit[n]) for n in names)
    found = {n: int(frame[hit[n]].sum()) for n in names}
    flag_names = [n for n in names if actions[n] == "flag"]
    drop_names = [n for n in names if actions[n] == "drop"]
    if flag_names:
        new_flags = pl.concat_list(
            [pl.when(pl.col(hit[n])).then(pl.lit(n)).otherwise(pl.lit(None, pl.String)) for n in flag_names]
        ).list.drop_nulls()
        frame = frame.with_columns(pl.concat_list(pl.col("flags"), new_flags).alias("flags"))
    bad = pl.any_horizontal([pl.col(hit[n]) for n in drop_names]) if drop_names else pl.lit(False)
    first = pl.coalesce([pl.when(pl.col(hit[n])).then(pl.lit(n)) for n in drop_names]) if drop_names else pl.lit("")
    rejects = as_rejects(frame.filter(bad), step="defects", reason=first, detail=first)
    return StepResult(
        kept=frame.filter(~bad).drop(hit.values()),
        rejects=rejects,
        stats={"found": found, "dropped": count_reasons(rejects)},
    )
