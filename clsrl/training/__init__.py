"""Training: one model fine-tuned by SFT or GRPO from its training spec, with the rule-based
rewards, checkpoints, resume and the published final model."""
