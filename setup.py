"""Only what pyproject.toml cannot say: the C word splitter behind ``veille.ingest.search.lowered_words``.

``optional=True``: without a C compiler the install goes on, and veille splits words with its
Python path (the same words, more slowly).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("veille.ingest._words", ["src/veille/ingest/_words.c"], optional=True)])
