"""Sources turn inputs (files, stdin, Kafka) into batches for the core; they hold no SLI logic."""
