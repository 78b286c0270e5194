"""The collect stage: heterogeneous sources → one normalised, labelled segment table."""
