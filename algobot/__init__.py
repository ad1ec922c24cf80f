"""algobot: Algorithmia's Algorithm Management API in Slack."""

__version__ = "0.1.0"
