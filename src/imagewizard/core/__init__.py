"""The layer every other builds on: errors, array conventions, parameter specs, the registry and tasks."""
