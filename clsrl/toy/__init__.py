"""The toy world's model: a tiny Qwen2-VL pre-trained to know a few demo colours, shipped."""
