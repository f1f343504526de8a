"""A package whose compiled part may fall back to pure Python."""
