"""Hanami: a growing neural network and the service around it."""

__version__ = "0.1.0"
