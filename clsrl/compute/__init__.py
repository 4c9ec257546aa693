"""What a job asks of a machine and what the machine has: scheduler requests, GPU memory
estimates and the checks against a card, GPU slots, disk space."""
