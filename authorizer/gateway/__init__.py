"""API Gateway's side: its events in, its authorizer context and responses out."""
