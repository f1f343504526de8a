"""The numbered conformance rules of the standards (spec notes §10), in one place:
`rules` for variant.json and index documents, `files` for wheels, folders and index
files on disk."""
