"""QLoRA fine-tuning.

Owns: the 4-bit copy with LoRA and the token's trainable rows (``qlora``), fine-tuning with the
Trainer (``finetune``), many tokens trained together in one run (``together``), the event log
with the step recorder that feeds it, a run's best evaluation and an initialization's progress as
job events (``events``), and the checkpoints a killed training resumes from (``checkpoint``).

May import: ``core.spec``, ``core.model``, torch, transformers, peft, bitsandbytes.
"""
