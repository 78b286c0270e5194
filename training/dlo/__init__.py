"""DLO vertical scaling (issue 9): depth expansion with residual gates, per-token FFN routing, cos-global labels."""
