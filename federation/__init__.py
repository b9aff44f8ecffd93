"""Protocol plumbing: signatures, discovery, JSON-LD and guarded fetching."""
