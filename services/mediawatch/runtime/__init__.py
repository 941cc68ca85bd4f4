"""Shared runtime of the mediawatch services: settings, Kafka clients, logging, HTTP."""
