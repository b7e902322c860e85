import polars as pl

from harness.config import CleanConfig, DefectConfig, FilterConfig, PiiConfig
from harness.data.clean import clean
from harness.data.defects import find_defects
from harness.data.filters import add_quality_columns, apply_filters, repeated_ngram_ratio
from harness.data.pii import find_pii, iban_valid, luhn_valid, scan_text
from harness.data.schema import text_views


def frame(rows: list[dict]) -> pl.DataFrame:
    base = {"source_file": "f", "source_line": 1, "input": ""}
    data = [base | {"row_id": i} | r for i, r in enumerate(rows)]
    return pl.DataFrame(data).with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("flags"))


def with_views(f: pl.DataFrame, kind: str = "instruction") -> pl.DataFrame:
    return f.with_columns(*text_views(kind))


def test_cleaning_repairs_and_counts_each_step():
    f = frame([
        {"instruction": "Translate", "output": "cafÃ©"},
        {"instruction": "Join", "output": "salt &amp; pepper"},
        {"instruction": "Ｗｉｄｅ", "output": "ﬁne"},
        {"instruction": "Bell", "output": "ding\x07 dong\u200b"},
        {"instruction": "  spaced   out  ", "output": "a  b\r\n\n\n\nc   "},
        {"instruction": "Plain", "output": "Nothing to do.", "input": "<noinput>"},
    ])
    result = clean(f, kind="instruction", config=CleanConfig())
    assert result.kept["output"].to_list() == ["café", "salt & pepper", "fine", "ding dong", "a b\n\nc", "Nothing to do."]
    assert result.kept["instruction"].to_list()[2] == "Wide"
    assert result.kept["input"].to_list()[5] == ""
    assert result.stats["rows_changed"] == {"fix_mojibake": 1, "unescape_html": 1, "nfkc": 1,
                                            "remove_control_chars": 1, "normalize_whitespace": 1, "no_input_marker": 1}


def test_cleaning_chat_messages():
    f = pl.DataFrame({"row_id": [0], "source_file": ["f"], "source_line": [1],
                      "messages": [[{"role": "user", "content": "hi  there"}, {"role": "assistant", "content": "caf&eacute;"}]]})
    result = clean(f, kind="chat", config=CleanConfig())
    assert result.kept["messages"].to_list() == [[{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "café"}]]
    assert result.stats["rows_changed"]["unescape_html"] == 1


def test_filters_reject_each_planted_problem_and_keep_good_rows():
    rows = {
        "good": {"instruction": "Explain rain.", "output": "Rain forms when water vapour condenses into droplets."},
        "empty_response": {"instruction": "Q", "output": "  "},
        "placeholder_response": {"instruction": "Q", "output": "N/A."},
        "refusal": {"instruction": "Opinion?", "output": "As an AI language model, I cannot have opinions."},
        "repetitive_response": {"instruction": "Poem", "output": " ".join(["the sea is deep and blue"] * 8)},
        "non_alphabetic_response": {"instruction": "Numbers", "output": "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"},
        "response_equals_prompt": {"instruction": "Say: hello there", "output": "say hello there!"},
        "too_long_response": {"instruction": "Long", "output": "word " * 50},
    }
    f = with_views(frame(list(rows.values())))
    config = FilterConfig(max_response_chars=200)
    result = apply_filters(add_quality_columns(f, config, None), kind="instruction", config=config)
    assert result.kept["row_id"].to_list() == [0]
    got = dict(zip(result.rejects["row_id"].to_list(), result.rejects["reason"].to_list(), strict=True))
    assert got == {i: name for i, name in enumerate(rows) if name != "good"}


def test_repeated_ngram_ratio():
    ratios = repeated_ngram_ratio(pl.Series(["a b c d e f", "a b a b a b a b", "a b", ""]), 2).to_list()
    assert ratios[0] == 0.0
    assert ratios[1] == 1 - 2 / 7  # 7 bigrams, 2 distinct
    assert ratios[2:] == [0.0, 0.0]


def test_classification_labels_are_not_judged_as_text():
    f = with_views(frame([{"text": "I loved it", "label": "none", "instruction": "", "output": ""}]), "classification")
    config = FilterConfig()
    result = apply_filters(add_quality_columns(f, config, None), kind="classification", config=config)
    assert result.kept.height == 1


def test_defects_alpaca_classes():
    rows = [
        {"instruction": "Should I invest?", "output": "Maybe.\n##\n18. Instruction: Identify the odd one."},
        {"instruction": "Summarize the given article.", "input": "https://www.bbc.com/news/world-51461830", "output": "x"},
        {"instruction": "Classify the shape.", "input": "<Picture Attached>", "output": "Triangle"},
        {"instruction": "Create a logo for a bakery.", "output": "A loaf in a circle."},
        {"instruction": "Fix the bug in the following code.", "output": "Add a semicolon."},
        {"instruction": "Fix the bug in the following code.", "input": "print(x", "output": "Close the bracket."},
        {"instruction": "Explain gravity.", "output": "Mass attracts mass.\\nIt is weak."},
        {"instruction": "Describe a sunset.", "output": "The sky turns orange and pink."},
    ]
    f = with_views(frame(rows))
    result = find_defects(f, kind="instruction", config=DefectConfig())
    got = dict(zip(result.rejects["row_id"].to_list(), result.rejects["reason"].to_list(), strict=True))
    assert got == {0: "merged_instructions", 1: "needs_external_content", 2: "needs_external_content",
                   3: "image_generation", 4: "missing_code"}
    kept = {r["row_id"]: r["flags"] for r in result.kept.iter_rows(named=True)}
    assert kept == {5: [], 6: ["stray_escapes"], 7: []}


def test_pii_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE89 3704 0044 0532 0130 01")


def test_pii_kinds_and_policies():
    actions = PiiConfig().model_dump()
    text, kinds = scan_text("Mail bob@example.com, call +1 415-555-0132 from 10.0.0.1", actions)
    assert text == "Mail [EMAIL], call [PHONE] from [IP_ADDRESS]"
    assert kinds == ["email", "ip_address", "phone"]
    assert scan_text("Order 1234 5678 9012 3456 in 2019 2020 2021", actions) == (
        "Order 1234 5678 9012 3456 in 2019 2020 2021", [])
    f = frame([
        {"instruction": "Pay", "output": "Card 4111-1111-1111-1111 saved."},
        {"instruction": "Bank", "output": "IBAN GB82 WEST 1234 5698 7654 32"},
        {"instruction": "Contact", "output": "Write to a@b.org"},
    ])
    result = find_pii(f, kind="instruction", config=PiiConfig(email="flag"))
    assert result.rejects["reason"].to_list() == ["pii_credit_card", "pii_iban"]
    assert result.kept["output"].to_list() == ["Write to a@b.org"]
    assert result.kept["flags"].to_list() == [["pii:email"]]
    assert result.stats["found"] == {"credit_card": 1, "email": 1, "iban": 1}


def test_real_data_false_positives_stay_fixed():
    """Cases from a trial on real Alpaca data that early rules got wrong."""
    rows = [
        {"instruction": "Write the code to implement a function that multiplies.", "output": "def f(a, b): return a * b"},
        {"instruction": "Describe the function and use of a loss function.", "output": "It measures error."},
        {"instruction": "Change the following sentence: the professor told the class.", "output": "The professor said so."},
        {"instruction": "Generate a multiplication table for 4.", "output": "4x1 = 4 4x2 = 8 4x3 = 12 4x4 = 16 4x5 = 20"},
    ]
    f = with_views(frame(rows))
    assert find_defects(f, kind="instruction", config=DefectConfig()).rejects.is_empty()
    config = FilterConfig()
    assert apply_filters(add_quality_columns(f, config, None), kind="instruction", config=config).rejects.is_empty()
    binary = "01010100 01101000 01100101 00100000 01110011 01101011 01111001"
    assert scan_text(binary, PiiConfig().model_dump()) == (binary, [])
