"""The live worker (faust + confluent-kafka): Stage A judges requests per partition, Stage B merges
partials into sli.counters and runs the detectors; /metrics and /health."""
