"""Registers the learned methods. Must not import torch at import time."""
