"""Results as people read them: tables, Markdown, CSV and self-contained HTML, with one escaper,
one way to write numbers and one palette, shared by the page (through ``core.service``) and the
files a comparison writes.

Owns: escaping user text, numbers and the palette (``text``), every table of results from the
schema (``tables``), a comparison's report in Markdown and HTML (``document``). No torch.

May import: ``core.spec``, ``core.experiment.analysis`` (the results schema and the verdict's flags).
"""
