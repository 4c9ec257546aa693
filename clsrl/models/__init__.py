"""The models: loading any supported VLM family, the families' facts, base models, the hub, the
tiny built-in builds and a model's size from its architecture."""
