# A test-only workflow for the SLURM profile: its one job holds ~1,100 MB. Its first attempt asks
# for 1,000 MB and is killed by SLURM for memory; the retry asks twice as much and succeeds. SLURM
# counts every process of the job step (two Snakemake processes of ~200 MB each, the shell), so
# the retry's 2,000 MB leave ~500 MB to spare (with a 700 MB block and 1,200 MB it once failed).
import sys

from clsrl.compute.resources import grown


rule all:
    input:
        "hungry.txt",


rule hungry:
    output:
        "hungry.txt",
    log:
        "logs/hungry.log",
    resources:
        mem_mb=lambda wildcards, attempt: grown(1000, attempt),
        runtime=5,
    params:
        python=sys.executable,
    shell:
        "{params.python} -c 'import time; block = b\"x\" * (1100 << 20); time.sleep(5)' "
        "&& echo {resources.mem_mb} > {output} 2> {log}"
