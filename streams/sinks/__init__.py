"""Sinks publish core outputs (files, terminal, Kafka, remote-write); they hold no SLI logic."""
