"""Web process: FastAPI app, channels, help desk."""
