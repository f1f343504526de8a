"""Wheels on disk: filenames, the one validating reader, the one writer, and the
variant.json document."""

__all__ = ["SCRATCH"]

# The prefix of what a run writes before it is complete (`<SCRATCH><pid>-...`): the
# fault handling (pipeline/faults.py) knows a dead run's leftovers by it. Here, not in
# the writer, so that the command line can use it without importing the writer.
SCRATCH = ".polywheel-"
