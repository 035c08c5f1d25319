"""The key stage: the only HTTP, discovery and the key cache, JWK parsing."""
