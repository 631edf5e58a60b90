"""Reusable ComponentResources of the flash-sale platform; config.py is their typed configuration."""
