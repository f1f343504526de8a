"""From the matrix to wheels: `variant` builds one variant (the one path every wheel
takes), `pep517` serves the hooks, `scheduler` and `worker` run the whole matrix for
`polywheel build`, `reuse` skips unchanged builds, `prepare` writes PEP 517 metadata."""
