"""Study 001: a minimal model L(W, gamma) = 1/(2N) sum ||gamma * (W x) - y||^2 trained with AdamW.

``model`` holds the data, the batched gradient and the SNR measurement; ``simulate`` runs one sweep
(``dynamics``, ``batch``, ``weight_decay``, ``dimension``) as a batched tensor program; ``analysis`` turns the
tidy trajectories into derived tables; ``claims`` checks the paper's five claims. Defaults: the
``minimal_model`` section of the schema (:mod:`scaledyn.config`).
CLI: ``python -m scaledyn.minimal_model --help``.
"""
