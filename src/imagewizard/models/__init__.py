"""Learned models: networks, training, weights. Imports torch lazily."""
