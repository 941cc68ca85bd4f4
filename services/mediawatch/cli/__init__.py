"""The ``mediawatch`` command line."""
