"""HTTP layer: FastAPI routers that translate requests to services and results to JSON."""
