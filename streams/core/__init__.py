"""The pure, transport-free core: decode → journeys → filters → judge → windows.

Nothing under this package imports Kafka, faust or HTTP clients, or reads the wall clock; time enters
only as an injected ``now_ms``.
"""
