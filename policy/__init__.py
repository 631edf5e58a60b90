"""The flash-sale CrossGuard policy pack: rules by domain in `rules/`, their registration in `registry`,
and `__main__.py`, which the engine runs to serve them."""
