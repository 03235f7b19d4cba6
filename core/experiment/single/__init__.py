"""One symbol: a strategy's initialization end to end, its evaluation, one comparison member, and
comparisons of strategies × seeds (over one symbol or several, each symbol judged on its own).

Owns: one initialization end to end and the work its seeds share (``pipeline``), ranks, quality
and generations before and after fine-tuning (``evaluate``), one member of a comparison: initialize,
fine-tune, evaluate (``member``), a comparison's members as a backend runs them: the tasks, the
work run for each one wherever it runs, what the backend's loop asks between them, the tally of
what finished (``members``), and comparisons with their settings (``compare``).
"""
