"""The token stage: a compact JWS to verified claims, and the cache of tokens verified before."""
