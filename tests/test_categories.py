"""Planted errors are categorised; clean answers are not flagged."""

import polars as pl

from harness.config import CategoryConfig
from harness.eval.categories import CATEGORIES, categorise, misspelt_words, unsupported_facts

CLEAN = [
    ("What is the capital of France?", "The capital of France is Paris.", "The capital of France is Paris."),
    ("Name a primary colour.", "Red is a primary colour.", "Red is a primary colour."),
    ("Add 17 and 25.", "17 plus 25 equals 42.", "17 plus 25 equals 42."),
    ("Why is the sky blue?", "Sunlight is scattered by air, and blue light scatters the most.",
     "Air scatters blue sunlight more than red light, so the sky looks blue."),
]
PLANTED = {
    "empty": ("Name a fruit.", "   ", "An apple is a fruit."),
    "refusal": ("What do you think of jazz?", "As an AI language model, I do not have opinions.",
                "Jazz is a lively musical style."),
    "truncated": ("Describe the sea.", "The sea is wide and", "The sea is wide and deep."),
    "overlong": ("Capital of Peru?", "The capital of Peru is Lima, a large coastal city with a long history, "
                 "many museums, famous food and a busy port nearby.", "Lima."),
    "repetition": ("Write about rain.", "rain falls and rain falls and rain falls and rain falls and rain falls",
                   "Rain falls from the clouds."),
    "misspelling": ("Spell a greeting.", "Helo and wellcome to the muzeum.", "Hello and welcome to the museum."),
    "hallucination": ("When was the bridge built?", "The bridge was built in 1932 by Gustave Eiffel.",
                      "The bridge was built long ago."),
    "wrong_answer": ("What is the capital of Japan?", "Bananas grow on tall plants.", "The capital of Japan is Tokyo."),
}


def frame(rows, hit_max=None) -> pl.DataFrame:
    return pl.DataFrame({
        "prompt_text": [r[0] for r in rows], "prediction": [r[1] for r in rows], "reference": [r[2] for r in rows],
        "hit_max_tokens": hit_max or [False] * len(rows),
    })


def test_each_planted_category_is_found_and_clean_answers_are_not_flagged():
    rows = CLEAN + list(PLANTED.values())
    hit_max = [False] * len(CLEAN) + [name == "truncated" for name in PLANTED]
    result = categorise(frame(rows, hit_max), CategoryConfig())
    got = result["categories"].to_list()
    assert got[: len(CLEAN)] == [[]] * len(CLEAN)
    for name, categories in zip(PLANTED, got[len(CLEAN):], strict=True):
        assert name in categories, (name, categories)
    assert set(result.columns) >= {f"is_{c}" for c in CATEGORIES} | {"token_f1"}


def test_inconsistent_answers_to_paraphrased_inputs():
    rows = [
        ("What is the boiling point of water at sea level in degrees Celsius?", "It boils at 100 degrees Celsius.",
         "100 degrees Celsius."),
        ("What is the boiling point of water at sea level, in degrees Celsius?", "Water boils at 50 degrees.",
         "100 degrees Celsius."),
        ("Name a mammal that lives in the ocean and breathes air.", "A dolphin.", "A whale or a dolphin."),
        # Same template, another entity: different questions, not paraphrases.
        ("Name the country whose capital city is given.\nBerlin", "Germany.", "Berlin is the capital of Germany."),
        ("Name the country whose capital city is given.\nRome", "Italy.", "Rome is the capital of Italy."),
    ]
    result = categorise(frame(rows), CategoryConfig())
    assert result["is_inconsistency"].to_list() == [True, True, False, False, False]


def test_format_errors_for_json_and_labels():
    rows = [("Give JSON.", '{"a": 1}', '{"a": 1}'), ("Give JSON.", "a: 1", '{"a": 1}')]
    assert categorise(frame(rows), CategoryConfig(expected_format="json"))["is_format_error"].to_list() == [False, True]
    rows = [("Classify.", "positive", "positive"), ("Classify.", "maybe?", "negative")]
    labelled = categorise(frame(rows), CategoryConfig(expected_format="label"), labels={"positive", "negative"})
    assert labelled["is_format_error"].to_list() == [False, True]


def test_rule_helpers():
    assert misspelt_words("The colour of teh sky", "", frozenset({"colour"})) == {"teh"}
    assert misspelt_words("Kenobi said hello", "General Kenobi") == set()
    assert unsupported_facts("It cost 40 dollars in 1999, said Alice Smith.", "It cost 40 dollars.") == ["1999", "Alice Smith"]
