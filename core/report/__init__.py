"""Results as people read them: tables, Markdown, CSV and self-contained HTML, with one escaper,
one way to write numbers and one palette, shared by the page (through ``core.service``) and the
files a comparison writes.

Owns: escaping user text, numbers and the palette (``text``), every table of results from the
schema (``tables``), a comparison's report in Markdown and HTML (``document``), a vocabulary's lexicon report:
top-5 and confusion shares, the worst symbols, a histogram of ranks and a CSV (``lexicon``). No torch.

May import: ``core.spec``, ``core.experiment.analysis`` (the results schema and the verdict's flags).
"""
