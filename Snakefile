# scaledyn: one DAG from simulations to the report of three papers on gradient noise, weight decay and scale.
#
#   snakemake --cores all                                      # everything (the schema's defaults)
#   snakemake --cores all --configfile config/smoke.yaml       # the whole DAG in about a minute
#   snakemake results/figures/gsnr/fig1_gsnr_vs_adaptation.pdf # one figure and only what it needs
#
# The config is completed and validated by scaledyn.config (workflow/schemas) before any job runs.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# Each study's own rules (what makes the files its analysis reads); then the rules every study shares,
# generated from the contracts (scaledyn.studies.CONTRACTS).
for _rules in study_rule_files():

    include: _rules


include: "workflow/rules/study.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


onstart:
    announce_pdf()


rule all:
    default_target: True
    input:
        all_targets(),
    message:
        "all figures and the report are up to date"
