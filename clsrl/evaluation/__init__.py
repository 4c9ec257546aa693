"""Evaluation: one model answers one target's test questions (transformers or vLLM)."""
