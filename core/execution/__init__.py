"""Running a comparison's members, and a vocabulary's training, somewhere: in this process, in
worker processes side by side, as Ray tasks, or data-parallel with Ray Train.

Owns: worker processes and the scheduling of members (``processes``), Ray tasks on a local
instance or a cluster (``ray_tasks``), and data-parallel vocabulary training with Ray Train
(``ray_train``).

May import: every room below it (``core.spec`` … ``core.report``) and ``core.atomic``.
"""
