"""harness: a data-centric toolkit for fine-tuning LLMs."""

__version__ = "0.1.0"
