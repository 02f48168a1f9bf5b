"""The FastAPI application: routers only, one per resource; the rooms below do the work."""
