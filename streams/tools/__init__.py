"""Developer tools: traffic generator, scenarios, core benchmark, report history generator, loaders."""
