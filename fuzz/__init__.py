"""Corpus fuzzing for issue 15: mutate valid files of every format, drive the CLI and the API.

``python -m fuzz --cases 5000`` (``make fuzz``) builds each case from a seed, runs it in a
long-lived worker process under a per-case timeout and checks the product's promises: no
traceback, no crash, no hang, no harmed input, one ``error:`` line when it refuses. A short
seeded slice runs in ``make test`` (``tests/test_fuzz_corpus.py``).
"""
