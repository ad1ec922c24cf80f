"""Benchmarks that drive algobot as it runs in production; see the README's capacity section."""

# The settings every benchmark algorithm is created with (the API wants all of them).
ALGO_SETTINGS = {
    "language": "python3-1",
    "environment": "cpu",
    "source_visibility": "closed",
    "license": "apl",
    "network_access": "isolated",
    "pipeline_enabled": False,
}
