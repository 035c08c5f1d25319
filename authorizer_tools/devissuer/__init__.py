"""The dev issuer: an OpenID provider on loopback (discovery, keys, tokens), its state, its TLS."""
