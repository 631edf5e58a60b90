"""Reusable ComponentResources of the flash-sale platform: each declares its own Args and reads no stack
configuration (stackconfig/component_args.py maps the configuration to them)."""
