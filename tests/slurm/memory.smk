# A test-only workflow for the SLURM profile: its one job holds ~700 MB. Its first attempt asks
# for 600 MB and is killed by SLURM for memory; the retry asks twice as much and succeeds.
import sys

from clsrl.resources import grown


rule all:
    input:
        "hungry.txt",


rule hungry:
    output:
        "hungry.txt",
    log:
        "logs/hungry.log",
    resources:
        mem_mb=lambda wildcards, attempt: grown(600, attempt),
        runtime=5,
    params:
        python=sys.executable,
    shell:
        "{params.python} -c 'import time; block = b\"x\" * (700 << 20); time.sleep(5)' "
        "&& echo {resources.mem_mb} > {output} 2> {log}"
