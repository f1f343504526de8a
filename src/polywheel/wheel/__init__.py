"""Wheels on disk: filenames, the one validating reader, the one writer, and the
variant.json document."""
