"""The one YAML file that drives every harness command, as typed models.

Loaded and validated once, up front: a typo or an out-of-range value fails
before any data is read, with an error that names the file, the field and what
was expected (``ConfigError``). Unknown keys are refused rather than ignored,
so an option never silently does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DataKind = Literal["instruction", "chat", "completion", "classification"]
PiiAction = Literal["redact", "drop", "flag", "ignore"]
DefectAction = Literal["drop", "flag", "ignore"]
KeepPolicy = Literal["first", "longest", "quality"]

DEFAULT_PLACEHOLDERS = ["n/a", "na", "none", "<nooutput>", "<no output>", "no output", "nooutput", "null", "-", "..."]
DEFAULT_NO_INPUT_MARKERS = [
    "<noinput>", "<no input>", "noinput", "no input", "no input.", "no input required", "no input required.",
    "n/a", "none", "null", "nil", "-", "<none>", "empty", "not applicable",
]
DEFAULT_REFUSAL_PATTERNS = [
    r"\bas an ai(?: language)? model\b",
    r"\bas a language model\b",
    r"\bi(?:'m| am) (?:just )?an ai\b",
    r"\bi (?:cannot|can't|am unable to|am not able to) (?:browse|access|view|see) (?:the internet|images?|the web|urls?|links?)",
    r"\bi'm sorry, but i (?:cannot|can't)\b",
    r"\bi (?:do not|don't) have (?:personal )?(?:opinions|feelings|emotions|access to real-time)",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One input: a path or glob, relative to the config file's folder."""

    path: str
    format: Literal["auto", "jsonl", "json", "csv", "parquet"] = "auto"


class ChatMapping(_Strict):
    """How a chat file spells its messages (ShareGPT: conversations/from/value)."""

    messages: str = "messages"
    role_key: str = "role"
    content_key: str = "content"
    role_map: dict[str, str] = Field(
        default_factory=lambda: {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}
    )


class CleanConfig(_Strict):
    """Text normalisation; each step counts the rows it changed."""

    fix_mojibake: bool = True
    unescape_html: bool = True
    nfkc: bool = True
    remove_control_chars: bool = True
    normalize_whitespace: bool = True
    normalize_no_input_markers: bool = True
    no_input_markers: list[str] = Field(default_factory=lambda: list(DEFAULT_NO_INPUT_MARKERS))


class FilterConfig(_Strict):
    """Row filters. A threshold of ``null`` turns that filter off."""

    min_response_chars: int | None = Field(1, ge=0)
    max_response_chars: int | None = Field(20_000, ge=1)
    min_prompt_chars: int | None = Field(1, ge=0)
    max_prompt_chars: int | None = Field(40_000, ge=1)
    placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))
    max_repeated_ngram_ratio: float | None = Field(0.5, gt=0, le=1)
    repeated_ngram_n: int = Field(3, ge=1, le=20)
    repetition_min_words: int = Field(20, ge=1, description="shorter responses are too short to judge repetition")
    refusal_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSAL_PATTERNS))
    min_alpha_ratio: float | None = Field(
        0.1, ge=0, le=1, description="regexes, tables and arithmetic answers sit near 0.15; noise below 0.1"
    )
    alpha_min_chars: int = Field(20, ge=1, description="shorter responses (numbers, labels) are not judged")
    response_equals_prompt: bool = True
    tokenizer: str | None = Field(None, description="hub id or local path; enables the token-length filter")
    max_tokens: int | None = Field(None, ge=1, description="prompt + response tokens; needs tokenizer")

    @model_validator(mode="after")
    def _tokens_need_tokenizer(self) -> FilterConfig:
        if self.max_tokens is not None and self.tokenizer is None:
            raise ValueError("max_tokens needs a tokenizer: set filters.tokenizer to a hub id or a local path")
        for lo, hi in (("min_response_chars", "max_response_chars"), ("min_prompt_chars", "max_prompt_chars")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{lo} ({a}) is larger than {hi} ({b}): no row could pass")
        return self


class DefectConfig(_Strict):
    """Known defect classes of generated instruction data (AlpacaDataCleaned's list)."""

    merged_instructions: DefectAction = "drop"
    needs_external_content: DefectAction = "drop"
    image_generation: DefectAction = "drop"
    missing_code: DefectAction = "drop"
    stray_escapes: DefectAction = "flag"


class PiiConfig(_Strict):
    """What to do with each kind of personal data found in any text field."""

    email: PiiAction = "redact"
    phone: PiiAction = "redact"
    credit_card: PiiAction = "drop"
    ip_address: PiiAction = "redact"
    iban: PiiAction = "drop"


TextView = Literal["prompt", "response"]


class ExactDedupConfig(_Strict):
    """Duplicates on normalised text of the chosen views."""

    enabled: bool = True
    fields: list[TextView] = Field(default_factory=lambda: ["prompt", "response"], min_length=1)


class NearDedupConfig(ExactDedupConfig):
    """MinHash LSH near-duplicate detection (datasketch-compatible parameters)."""

    threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity of word shingles")
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_size: int = Field(3, ge=1, le=32, description="words per shingle; 3 suits short instruction data")
    seed: int = Field(1, ge=0)
    bands: int | None = Field(None, ge=2)
    rows: int | None = Field(None, ge=1)
    false_negative_weight: float = Field(
        0.95, ge=0, le=1, description="candidates are verified exactly, so missing a duplicate costs more"
    )
    action: Literal["drop", "flag"] = "drop"

    @model_validator(mode="after")
    def _bands_rows_together(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (they are then derived from threshold)")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}: "
                "each band reads rows hash values, so there are not enough of them"
            )
        return self


class DedupConfig(_Strict):
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    near: NearDedupConfig = Field(default_factory=NearDedupConfig)
    keep: KeepPolicy = "first"
    conflicting_responses: Literal["keep_all", "keep_one", "drop_all"] = "keep_all"


class SplitConfig(_Strict):
    train: float = Field(0.70, ge=0, le=1)
    validation: float = Field(0.15, ge=0, le=1)
    test: float = Field(0.15, ge=0, le=1)
    stratify: bool | None = Field(None, description="default: on for classification data")

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


class DecontaminationConfig(_Strict):
    """Remove rows whose text shares a long word n-gram with a benchmark/test file."""

    files: list[str] = Field(default_factory=list)
    ngram: int = Field(13, ge=3, le=50)


class DataConfig(_Strict):
    kind: DataKind
    inputs: list[InputSpec] = Field(min_length=1)
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> column name in the files"
    )
    chat: ChatMapping = Field(default_factory=ChatMapping)

    @field_validator("inputs", mode="before")
    @classmethod
    def _paths_as_strings(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _known_columns(self) -> DataConfig:
        from harness.data.schema import CANONICAL_FIELDS

        allowed = CANONICAL_FIELDS[self.kind]
        unknown = sorted(set(self.columns) - set(allowed))
        if unknown:
            raise ValueError(
                f"columns maps unknown field(s) {unknown} for kind {self.kind!r}; expected keys among {list(allowed)}"
            )
        return self


Severity = Literal["critical", "warning"]


class CheckConfig(_Strict):
    """Thresholds the suites read as ``$PARAMETER`` values; the checks themselves live in suite files."""

    suites: list[str] | None = Field(None, description="suite names (suites/<name>.json) or paths; default: the data kind's suite")
    data_dir: str | None = Field(None, description="prepared data to check; default: prepare's output folder")
    max_seq_len: int = Field(2048, ge=8, description="the training sequence length, in tokens")
    tokenizer: str | None = Field(None, description="default: filters.tokenizer; without one, tokens ~ characters / 4")
    max_refusal_rate: float = Field(0.0, ge=0, le=1)
    max_pii_rate: float = Field(0.0, ge=0, le=1)
    max_overlength_rate: float = Field(0.01, ge=0, lt=1, description="rows longer than max_seq_len (truncated)")
    min_class_share: float = Field(0.02, ge=0, le=1)
    allowed_labels: list[str] | None = Field(None, description="classification; default: the labels of the train split")
    split_tolerance: float = Field(0.05, ge=0, le=1, description="allowed gap between a split's share and its ratio")


class BiasConfig(_Strict):
    """Checks on sensitive attributes (columns of the data) with fairlearn."""

    attributes: list[str] = Field(default_factory=list)
    outcome: str | None = Field(None, description="column whose rate per group is compared; default: label")
    positive_value: str | None = Field(None, description="outcome value counted as positive; default: the rarest")
    min_group_share: float = Field(0.05, ge=0, le=1)
    max_parity_difference: float = Field(0.2, ge=0, le=1, description="demographic parity difference of the outcome")
    min_parity_ratio: float = Field(0.8, ge=0, le=1, description="demographic parity ratio (four-fifths rule)")
    terms: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="topic -> group -> words; share of records mentioning each group"
    )
    min_term_share_ratio: float | None = Field(
        None, ge=0, le=1, description="least / most mentioned group's share; null reports without judging"
    )
    representation_severity: Severity = "critical"
    parity_severity: Severity = "warning"
    terms_severity: Severity = "warning"


class LoraSettings(_Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field("all-linear", description="'all-linear' or module names")


class PromptTuningSettings(_Strict):
    num_virtual_tokens: int = Field(20, ge=1)
    init_text: str | None = Field(None, description="initialise the virtual tokens from this text (else random)")


class TemplateSettings(_Strict):
    """How instruction/completion/classification rows become text; chat uses the tokenizer's chat template."""

    instruction: str = "### Instruction:\n{instruction}\n\n"
    input: str = "### Input:\n{input}\n\n"
    response: str = "### Response:\n"
    classification: str = "{text}\n\n### Label:\n"


class TrainConfig(_Strict):
    """LoRA (default), full fine-tuning, prompt tuning, or QLoRA (CUDA only)."""

    model: str = Field(description="hub id or local path, loaded with from_pretrained")
    method: Literal["lora", "full", "prompt_tuning", "qlora"] = "lora"
    trust_remote_code: bool = False
    lora: LoraSettings = Field(default_factory=LoraSettings)
    prompt_tuning: PromptTuningSettings = Field(default_factory=PromptTuningSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    loss_on: Literal["response", "all"] = Field("response", description="response: prompt tokens carry no loss")
    max_seq_len: int = Field(1024, ge=8)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(4, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="overrides epochs")
    warmup: float = Field(0.03, ge=0, description="a share of the steps if < 1, else a number of steps")
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    seed: int | None = Field(None, description="default: the top-level seed")
    eval_steps: int = Field(50, ge=1, description="validation loss (and a checkpoint) every N steps")
    early_stopping_patience: int | None = Field(3, ge=1, description="evaluations without improvement; null: off")
    save_total_limit: int = Field(2, ge=1)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field("auto", description="auto: bf16/fp16 on GPU, fp32 on CPU")
    gradient_checkpointing: bool = False
    packing: bool = Field(
        False, description="concatenate a batch's examples without padding; attention stays within each example"
    )
    merge: bool = Field(False, description="also save the base model with the adapter merged in")
    reference_texts: str | None = Field(None, description="general text (.txt lines or .jsonl 'text') for the forgetting check")
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(default_factory=list)
    output_dir: str | None = Field(None, description="default: reports/<project>/train")


class CategoryConfig(_Strict):
    """Thresholds of the error categories (see harness/eval/categories.py for each rule)."""

    overlong_ratio: float = Field(2.5, gt=1, description="prediction words / reference words above this: overlong")
    repetition_ratio: float = Field(0.3, gt=0, le=1, description="repeated 3-gram share above this: repetition")
    repetition_min_words: int = Field(12, ge=3)
    min_misspellings: int = Field(1, ge=1, description="unknown words needed to call an answer misspelt")
    extra_words: list[str] = Field(default_factory=list, description="words the spelling dictionary should accept")
    wrong_answer_f1: float = Field(0.3, ge=0, le=1, description="token F1 with the reference below this: wrong answer")
    inconsistency_similarity: float = Field(
        0.9, gt=0, lt=1, description="Jaccard of two inputs to count as paraphrases; templated questions differing "
        "in one entity ('capital of Berlin' / 'of Rome') sit near 0.8 and are different questions")
    inconsistency_f1: float = Field(0.5, ge=0, le=1, description="answers to paraphrases agreeing less than this conflict")
    expected_format: Literal["text", "json", "label"] = Field("text", description="label: the allowed labels of the data")


class EvalConfig(_Strict):
    """Generation settings, metrics and error-category thresholds for ``harness eval``."""

    split: Literal["test", "validation"] = "test"
    max_examples: int | None = Field(None, ge=1, description="evaluate the first N examples only")
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(128, ge=1)
    temperature: float = Field(0.0, ge=0, description="0: greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=lambda: ["### Instruction:"])
    metrics: list[Literal["sacrebleu", "chrf", "rouge", "exact_match", "token_f1"]] = Field(
        default_factory=lambda: ["sacrebleu", "chrf", "rouge", "exact_match", "token_f1"])
    bootstrap_resamples: int = Field(1000, ge=10)
    categories: CategoryConfig = Field(default_factory=CategoryConfig)
    group_attributes: list[str] | None = Field(None, description="default: bias.attributes")
    max_group_difference: float = Field(0.1, ge=0, le=1, description="largest allowed gap of a score between groups")
    adapter: str | None = Field(None, description="default: the train run's adapter (or full model)")
    benchmarks: list[str] = Field(default_factory=list, description="folders of NAME.yaml + NAME.jsonl benchmark files")
    lm_eval_tasks: list[str] = Field(default_factory=list, description="lm-evaluation-harness tasks (optional extra)")
    output_dir: str | None = Field(None, description="default: reports/<project>/eval")


class HarnessConfig(_Strict):
    project: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 42
    output_dir: str | None = Field(None, description="default: reports/<project>/data next to the config")
    data: DataConfig
    clean: CleanConfig = Field(default_factory=CleanConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    defects: DefectConfig = Field(default_factory=DefectConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    decontaminate: DecontaminationConfig = Field(default_factory=DecontaminationConfig)
    checks: CheckConfig = Field(default_factory=CheckConfig)
    bias: BiasConfig = Field(default_factory=BiasConfig)
    train: TrainConfig | None = None
    eval: EvalConfig = Field(default_factory=EvalConfig)


class ConfigError(ValueError):
    """A config a user must fix; the message names the file and the field."""


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field (check the spelling; see README for the options)"
    got = error.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, dict | list) else ""
    return f"{where}: {message}{shown}"


def load_config(path: str | Path) -> tuple[HarnessConfig, Path]:
    """Load and validate a config; returns it with the folder relative paths resolve against."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, got {type(raw).__name__}")
    try:
        config = HarnessConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(err) for err in exc.errors()]
        raise ConfigError(f"{path}: invalid config: " + "; ".join(lines)) from None
    return config, path.resolve().parent
