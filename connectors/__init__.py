"""Ingest: MQTT and HTTP connectors, inbound adapters, the time-series writer and its upkeep."""
