"""The built-in example: a small instruction data set with every defect planted.

Generated, not downloaded, and deterministic for a seed. The planted rows are
listed in ``planted.json`` beside the data, so the demo (and the tests) can
show that each one was caught for the right reason.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import yaml

_CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Canada": "Ottawa", "Peru": "Lima",
    "Norway": "Oslo", "Egypt": "Cairo", "Chile": "Santiago", "Vietnam": "Hanoi", "Poland": "Warsaw",
    "Ghana": "Accra", "Spain": "Madrid", "Greece": "Athens", "Cuba": "Havana", "Nepal": "Kathmandu",
}
_ANTONYMS = {
    "hot": "cold", "early": "late", "happy": "sad", "heavy": "light", "ancient": "modern",
    "generous": "stingy", "brave": "cowardly", "narrow": "wide", "rough": "smooth", "loud": "quiet",
}
_TOPICS = ["geography", "arithmetic", "language", "science", "writing"]
_REGIONS = ["north", "south", "east", "west"]
_FACTS = [
    ("Why is the sky blue?", "Sunlight is scattered by the molecules of the air, and blue light is scattered "
     "much more than red light because its wavelength is shorter, so the sky looks blue from every direction."),
    ("What causes the seasons?", "The seasons are caused by the tilt of the Earth's axis. As the Earth orbits the "
     "Sun, each hemisphere leans towards the Sun for part of the year and receives more direct sunlight."),
    ("How do plants make food?", "Plants make food by photosynthesis: their leaves capture sunlight and use its "
     "energy to turn water and carbon dioxide into sugar, releasing oxygen as a by-product."),
    ("What is a prime number?", "A prime number is a whole number greater than one whose only divisors are one "
     "and itself, such as two, three, five, seven and eleven."),
    ("Why do we have tides?", "Tides come from the pull of the Moon's gravity, and to a lesser extent the Sun's, "
     "on the oceans, which raises a bulge of water on the sides of the Earth facing towards and away from the Moon."),
]


def _clean_rows(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for country, capital in _CAPITALS.items():
        rows.append({"instruction": f"What is the capital of {country}?", "input": "",
                     "output": f"The capital of {country} is {capital}.", "topic": "geography"})
        rows.append({"instruction": "Name the country whose capital city is given.", "input": capital,
                     "output": f"{capital} is the capital of {country}.", "topic": "geography"})
    for word, opposite in _ANTONYMS.items():
        rows.append({"instruction": "Give the antonym of the word.", "input": word,
                     "output": f"The opposite of '{word}' is '{opposite}'.", "topic": "language"})
    pairs = sorted({(rng.randint(2, 99), rng.randint(2, 99)) for _ in range(80)})[:60]
    for a, b in rng.sample(pairs, len(pairs)):
        rows.append({"instruction": f"Add {a} and {b}.", "input": "",
                     "output": f"{a} plus {b} equals {a + b}.", "topic": "arithmetic"})
    for question, answer in _FACTS:
        rows.append({"instruction": question, "input": "", "output": answer, "topic": "science"})
    for subject in ["a rainy morning", "a lost key", "the first day of school", "a lighthouse", "an old bicycle",
                    "a crowded market", "a quiet library", "a mountain village"]:
        rows.append({"instruction": "Write one sentence about the subject.", "input": subject,
                     "output": f"Everyone remembers {subject}, and each person tells its story a little differently.",
                     "topic": "writing"})
    for row in rows:
        row["region"] = rng.choice(_REGIONS)
    return rows


def _planted_rows() -> list[tuple[str, dict]]:
    """(what was planted, row). Each is caught by a named step with a named reason."""
    science = _FACTS[0]
    return [
        ("exact_duplicate", {"instruction": "what is the capital of france", "input": "",
                             "output": "The capital of France is Paris", "topic": "geography"}),
        ("exact_duplicate", {"instruction": "WHAT IS THE CAPITAL OF JAPAN?", "input": "",
                             "output": "The capital of Japan is Tokyo!", "topic": "geography"}),
        ("near_duplicate", {"instruction": science[0], "input": "",
                            "output": science[1].replace("much more than red light", "far more than red light"),
                            "topic": "science"}),
        ("near_duplicate", {"instruction": _FACTS[2][0], "input": "",
                            "output": _FACTS[2][1].replace("turn water", "convert water"),
                            "topic": "science"}),
        ("conflicting_response", {"instruction": "What is a prime number?", "input": "",
                                  "output": "A number that is odd.", "topic": "science"}),
        ("empty_response", {"instruction": "Calculate the area of the rectangle.", "input": "4 cm by 5 cm",
                            "output": "   ", "topic": "arithmetic"}),
        ("placeholder_response", {"instruction": "Describe the smell of rain.", "input": "",
                                  "output": "<nooutput>", "topic": "writing"}),
        ("placeholder_response", {"instruction": "Summarise the meeting notes.", "input": "",
                                  "output": "N/A", "topic": "writing"}),
        ("refusal", {"instruction": "What do you think of jazz?", "input": "",
                     "output": "As an AI language model, I do not have personal opinions about music.",
                     "topic": "writing"}),
        ("repetitive_response", {"instruction": "Write a short poem about the sea.", "input": "",
                                 "output": " ".join(["the sea is blue and the sea is deep"] * 6),
                                 "topic": "writing"}),
        ("response_equals_prompt", {"instruction": "Repeat after me: good morning", "input": "",
                                    "output": "Repeat after me: good morning", "topic": "language"}),
        ("non_alphabetic_response", {"instruction": "List the numbers.", "input": "",
                                     "output": "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
                                     "topic": "arithmetic"}),
        ("merged_instructions", {"instruction": "Should I invest in stocks?", "input": "",
                                 "output": "It depends on your situation and your appetite for risk.\n##\n"
                                 "18. Instruction: Identify the odd one out.\n18. Input: Apple, Banana, Car",
                                 "topic": "writing"}),
        ("needs_external_content", {"instruction": "Summarize the given article in 200 words.",
                                    "input": "https://www.example.com/news/article-51461830",
                                    "output": "The article describes a wave of protests.", "topic": "writing"}),
        ("needs_external_content", {"instruction": "Classify the following shape according to simple geometry.",
                                    "input": "<Picture Attached>", "output": "Triangle", "topic": "science"}),
        ("image_generation", {"instruction": "Create a graphic or logo that visually represents the word courage.",
                              "input": "", "output": "A lion's head inside a shield, drawn in bold red lines.",
                              "topic": "writing"}),
        ("missing_code", {"instruction": "Find the bug in the following code.", "input": "",
                          "output": "The loop never ends because the counter is not incremented.",
                          "topic": "science"}),
        ("pii_credit_card", {"instruction": "Store my card for later.", "input": "",
                             "output": "Your card 4111 1111 1111 1111 has been saved.", "topic": "writing"}),
    ]


def _cleaned_but_kept() -> list[tuple[str, dict]]:
    """Rows that are repaired in place, not dropped."""
    return [
        ("no_input_marker", {"instruction": "Name a primary colour.", "input": "<noinput>",
                             "output": "Red is a primary colour.", "topic": "science"}),
        ("no_input_marker", {"instruction": "Name a musical instrument with strings.", "input": "No input",
                             "output": "The violin has four strings.", "topic": "writing"}),
        ("fix_mojibake", {"instruction": "Translate 'coffee' into French.", "input": "",
                          "output": "The French word is cafÃ©.", "topic": "language"}),
        ("unescape_html", {"instruction": "Combine the two words with an ampersand.", "input": "salt, pepper",
                           "output": "salt &amp; pepper", "topic": "language"}),
        ("pii_email_redacted", {"instruction": "Who should I contact about the order?", "input": "",
                                "output": "Write to orders.team@example.org or call +44 20 7946 0958.",
                                "topic": "writing"}),
    ]


MALFORMED_LINES = [
    ("invalid_json", b'{"instruction": "Name a fruit.", "output": "Apple"'),
    ("wrong_type", b'{"instruction": "How many legs does a spider have?", "input": "", "output": 8}'),
    ("missing_field", b'{"input": "", "output": "An answer with no question."}'),
    ("invalid_utf8", b'{"instruction": "Say hello.", "input": "", "output": "Hello \xff\xfe there"}'),
]

CONFIG = {
    "project": "demo",
    "seed": 7,
    "data": {"kind": "instruction", "inputs": ["data/*.jsonl", "data/*.jsonl.gz"]},
    "dedup": {"keep": "first", "conflicting_responses": "keep_one"},
    "bias": {"attributes": ["region"], "min_group_share": 0.1},
}


def write_example(directory: Path, *, seed: int = 7) -> Path:
    """Write data files, ``planted.json`` and ``harness.yaml`` into directory; returns the config path."""
    rng = random.Random(seed)
    data_dir = directory / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    clean_rows = _clean_rows(rng)
    planted = _planted_rows() + _cleaned_but_kept()
    for label, row in planted:
        row.setdefault("region", rng.choice(_REGIONS))
    half = len(clean_rows) // 2
    lines_a = [json.dumps(r).encode() for r in clean_rows[:half]] + [line for _, line in MALFORMED_LINES]
    (data_dir / "part-1.jsonl").write_bytes(b"\n".join(lines_a) + b"\n")
    lines_b = [json.dumps(r) for r in clean_rows[half:]] + [json.dumps(r) for _, r in planted]
    with gzip.open(data_dir / "part-2.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines_b) + "\n")
    first_planted_line = len(clean_rows) - half + 1
    manifest = {
        "clean_rows": len(clean_rows),
        "planted": [{"file": "data/part-2.jsonl.gz", "line": first_planted_line + i, "kind": label}
                    for i, (label, _) in enumerate(planted)],
        "malformed": [{"file": "data/part-1.jsonl", "line": half + 1 + i, "reason": reason}
                      for i, (reason, _) in enumerate(MALFORMED_LINES)],
    }
    (directory / "planted.json").write_text(json.dumps(manifest, indent=2) + "\n")
    config_path = directory / "harness.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    return config_path
