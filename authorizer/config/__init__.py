"""Configuration, read once at cold start: settings, issuers, presets, the rules file."""
