"""Temporary: the components import their config classes from here until h14args gives them their own Args."""

from stackconfig import *  # noqa: F403
