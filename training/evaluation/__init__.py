"""Evaluation of masked LMs the way Glot500 reports them, head vs tail languages (`glot eval ...`).

- `pppl`: pseudo-perplexity per language, per token / word (character for unspaced scripts) / byte, with an
  `<unk>` charged ln 256 per UTF-8 byte it hides.
- `retrieval`: mean-pooled layer embeddings, cosine, English queries, top-1/top-10 (UDHR, Tatoeba).
- `data`: held-out segment tables, UDHR paragraph alignment, Tatoeba folders.
- `report`: head/tail summaries, base-vs-continued `compare`, JSON + Markdown + plots (`plots`).
- `run`: whole-model evaluation and comparison, as the CLI (`training/eval_cli.py`) and the demo run them.
"""
