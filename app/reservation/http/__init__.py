"""The HTTP edge: the app factory, routes, the reservation hot path, auth, the HTTP mapping of errors,
OpenAPI and the internal port's endpoints. The use cases it serves (service.py) drive the gate and the store.

Imports gate, store, domain and shared; never runtime or relay."""
