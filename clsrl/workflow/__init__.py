"""The workflow's view of a config: the study it describes, its checks and its progress."""
