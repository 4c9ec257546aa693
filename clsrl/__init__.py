"""clsrl: reproduce and extend CLS-RL (arXiv 2503.16188) as a Snakemake workflow.

The package holds all the logic; the Snakefile, `rules/` and `workflow_scripts/` only wire it up.
"""

import os

__version__ = "0.1.0"

# Short hub timeouts for every process that imports clsrl (jobs included), before huggingface_hub
# reads them: an unreachable hub fails in seconds, not minutes (clsrl.models.hub checks it before
# any job).
HUB_TIMEOUTS_S = {"HF_HUB_ETAG_TIMEOUT": "10", "HF_HUB_DOWNLOAD_TIMEOUT": "30"}
for _name, _seconds in HUB_TIMEOUTS_S.items():
    os.environ.setdefault(_name, _seconds)
