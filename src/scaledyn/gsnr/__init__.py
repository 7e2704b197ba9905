"""Study 000: GSNR as an indicator of scale adaptation (shape x noise sweeps, paper 000).

``simulate`` runs one (shape, noise model, optimiser) job as a batched tensor program; ``classify``
holds the threshold classifier; ``aggregate`` turns the per-job tables into the study's results (the
``analyse`` step); ``claims`` checks the paper's claims against them. CLI: ``python -m scaledyn.gsnr --help``.
"""
