"""The HTTP prediction service for one saved run: `python -m tlcore serve RUN` answers GET /health,
GET /info and POST /predict, with its OpenAPI docs at /docs. FastAPI and uvicorn are imported here only;
`import tlcore` does not import this package."""
from .api import create_app
from .server import serve

__all__ = ["create_app", "serve"]
