"""clsrl: reproduce and extend CLS-RL (arXiv 2503.16188) as a Snakemake workflow.

The package holds all the logic; the Snakefile, `rules/` and `workflow_scripts/` only wire it up.
"""

__version__ = "0.1.0"
