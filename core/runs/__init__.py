"""Work that outlives a request.

Owns: jobs on a background thread (``jobs``), the run store on disk (``store``), queuing checked
fine-tunings and comparisons (``submit``), vocabulary runs (``vocab_jobs``) and vocabularies drafted
from the lexicon (``draft_jobs``), resuming an
interrupted run in its own folder (``resume``), how a job's events read as progress
(``progress``), how long a comparison will take here (``estimate``), and exports of trained runs
(``export``).

May import: every room below it (``core.spec`` … ``core.execution``) and ``core.atomic``.
"""
