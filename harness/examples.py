"""The built-in example: a small instruction data set with every defect planted.

Generated, not downloaded, and deterministic for a seed. The planted rows are
listed in ``planted.json`` beside the data, so the demo (and the tests) can
show that each one was caught for the right reason.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import yaml

_CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Canada": "Ottawa", "Peru": "Lima",
    "Norway": "Oslo", "Egypt": "Cairo", "Chile": "Santiago", "Vietnam": "Hanoi", "Poland": "Warsaw",
    "Ghana": "Accra", "Spain": "Madrid", "Greece": "Athens", "Cuba": "Havana", "Nepal": "Kathmandu",
    "Italy": "Rome", "Germany": "Berlin", "Austria": "Vienna", "Portugal": "Lisbon", "Ireland": "Dublin",
    "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen", "Hungary": "Budapest",
    "Thailand": "Bangkok", "Mexico": "Mexico City", "Argentina": "Buenos Aires", "Colombia": "Bogota",
    "Ethiopia": "Addis Ababa", "Morocco": "Rabat", "Senegal": "Dakar", "Mongolia": "Ulaanbaatar",
}
_ANTONYMS = {
    "hot": "cold", "early": "late", "happy": "sad", "heavy": "light", "ancient": "modern",
    "generous": "stingy", "brave": "cowardly", "narrow": "wide", "rough": "smooth", "loud": "quiet",
    "tall": "short", "full": "empty", "rich": "poor", "strong": "weak", "fast": "slow",
    "open": "closed", "clean": "dirty", "young": "old", "dark": "bright", "hard": "soft",
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


_SUBJECTS = ["a rainy morning", "a lost key", "the first day of school", "a lighthouse", "an old bicycle",
             "a crowded market", "a quiet library", "a mountain village"]
# Few arithmetic rows at first: the first iteration's report should ask for more (see the demo).
FIRST_ARITHMETIC_ROWS = 12


def _benchmark_pairs() -> list[tuple[int, int]]:
    """Addition questions held out of every training row: the demo's fixed yardstick across iterations."""
    rng = random.Random(1234)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 40:
        pairs.add((rng.randint(2, 99), rng.randint(2, 99)))
    return sorted(pairs)


BENCHMARK_PAIRS = _benchmark_pairs()


def arithmetic_rows(rng: random.Random, count: int) -> list[dict]:
    """Distinct addition questions, never one of the benchmark's; an unlimited supply for the data requests."""
    held_out = set(BENCHMARK_PAIRS)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < count:
        pair = (rng.randint(2, 99), rng.randint(2, 99))
        if pair not in held_out:
            pairs.add(pair)
    return [{"instruction": f"Add {a} and {b}.", "input": "", "output": f"{a} plus {b} equals {a + b}.",
             "topic": "arithmetic", "region": rng.choice(_REGIONS)} for a, b in sorted(pairs)]


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
    for question, answer in _FACTS:
        rows.append({"instruction": question, "input": "", "output": answer, "topic": "science"})
    for subject in _SUBJECTS:
        rows.append({"instruction": "Write one sentence about the subject.", "input": subject,
                     "output": f"Everyone remembers {subject}, and each person tells its story a little differently.",
                     "topic": "writing"})
    for row in rows:
        row["region"] = rng.choice(_REGIONS)
    rows += arithmetic_rows(rng, FIRST_ARITHMETIC_ROWS)
    return rng.sample(rows, len(rows))


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
    "checks": {"max_seq_len": 128},
    "train": {"method": "full", "max_seq_len": 128, "max_steps": 200, "eval_steps": 50, "batch_size": 8,
              "learning_rate": 3e-3, "warmup": 0.05, "early_stopping_patience": None},
    "eval": {"max_new_tokens": 24, "batch_size": 16, "bootstrap_resamples": 200, "group_attributes": ["topic", "region"],
             "benchmarks": ["benchmarks"]},
}
SPECIAL_TOKENS = ["<unk>", "<pad>", "<s>", "</s>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<s> assistant : {% endif %}"
)


def build_tiny_model(directory: Path, texts: list[str], *, seed: int = 0, hidden_size: int = 32) -> Path:
    """A tiny Llama with random weights and a word-level tokenizer over ``texts``, saved locally.

    No download: the demo and the tests build their model from a config. The
    0.2 init scale (not 0.02) lets a few hundred steps move the output away
    from uniform.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t)})
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                        eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         pad_token_id=1, bos_token_id=2, eos_token_id=3, initializer_range=0.2)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def example_vocabulary() -> list[str]:
    """Every text the example and its supplied data can contain, and the prompt template."""
    rng = random.Random(0)
    texts = ["### Instruction : Input : Response : Label assistant user system"]
    texts += [f"{r['instruction']} {r['input']} {r['output']}" for r in _clean_rows(rng)]
    texts += [f"{r['instruction']} {r['input']} {r['output']}" for _, r in _planted_rows() + _cleaned_but_kept()]
    texts += [" ".join(str(n) for n in range(0, 200)) + " plus equals"]
    return texts


def supply_requested_data(report: dict, directory: Path, *, seed: int = 11) -> dict[str, int]:
    """Write the rows an iteration report asks for, as far as the example's generators can make them.

    Returns rows written per request. The generator can make arithmetic: it
    answers a ``topic = arithmetic`` slice request or a topic cluster about
    adding, once, into ``data/requested-N.jsonl``.
    """
    rng = random.Random(seed)
    written: dict[str, int] = {}
    rows = []
    for request in report["targeted"]["requests"]:
        slice_request = request.get("attribute") == "topic" and request.get("group") == "arithmetic"
        topic_request = "add" in request.get("topic", "").split(" / ")
        if (slice_request or topic_request) and not written:
            new = arithmetic_rows(rng, request["add_examples"])
            rows += new
            written[request["id"]] = len(new)
    if rows:
        number = len(list((directory / "data").glob("requested-*.jsonl"))) + 1
        path = directory / "data" / f"requested-{number}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return written


def _write_benchmark(folder: Path) -> None:
    """A generation benchmark of held-out additions, asked in the training template."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"type": "generation", "prompt": "### Instruction:\nAdd {a} and {b}.\n\n### Response:\n", "answer": "answer",
            "metric": "token_f1", "max_new_tokens": 12}
    (folder / "arithmetic.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    items = [{"a": a, "b": b, "answer": f"{a} plus {b} equals {a + b}."} for a, b in BENCHMARK_PAIRS]
    (folder / "arithmetic.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))


def write_example(directory: Path, *, seed: int = 7, with_model: bool = False) -> Path:
    """Write data files, ``planted.json``, ``harness.yaml`` and (``with_model``) a tiny model into directory;
    returns the config path."""
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
    _write_benchmark(directory / "benchmarks")
    config_path = directory / "harness.yaml"
    config = CONFIG | {"train": CONFIG["train"] | {"model": str((directory / "model").resolve())}}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    if with_model:
        build_tiny_model(directory / "model", example_vocabulary(), hidden_size=64)
    return config_path
