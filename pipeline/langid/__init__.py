"""Language and script identification: GlotScript script detection, fastText LID (GlotLID or lid.176 label
formats), the keep/reject policy, per-language thresholds, and training/evaluation of GlotLID-style models."""
