"""Kafka plumbing shared by every path that talks to a broker: client settings, security, broker health."""
