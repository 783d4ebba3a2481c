"""The demo source: invented, multilingual social traffic about a fictional Swiss operator.

``DemoGenerator(seed).generate(until)`` returns posts in the ndjson schema of
``veille.sources.formats.ndjson`` (docs/formats.md), so the same pipeline that imports files
ingests the demo.
"""

from .content import BRAND_NAME, CARE_HANDLE, COMPETITORS, MAIN_HANDLE, OUTAGE_TAG
from .generator import DemoGenerator

__all__ = ["BRAND_NAME", "CARE_HANDLE", "COMPETITORS", "DemoGenerator", "MAIN_HANDLE", "OUTAGE_TAG"]
