"""Enhance methods. Importing this package registers them (see :mod:`imagewizard.registry`)."""
