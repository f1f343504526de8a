"""Settings → the expanded matrix (one `VariantSpec` per label), and which part of it a
PEP 517 call selects."""
