"""The machine-code audit: decode every binary of a wheel (x86-64 instructions, CUDA fat
binaries) and let each namespace compare what it found with what the wheel claims."""
