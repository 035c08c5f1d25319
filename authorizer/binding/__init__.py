"""Sender-constrained tokens: the confirmation (cnf) check, DPoP proofs, the replay store."""
