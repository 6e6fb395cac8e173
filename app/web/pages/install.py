"""What makes the inbox an installable app: the web manifest and the service worker.

Both are public (``auth.PUBLIC_PATHS``): browsers fetch the manifest without cookies, and a
service worker script answered with a redirect to the sign-in page fails to register. Neither
carries anything about the user. The worker lives at the root because a worker controls only
the pages under its own path.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.web.templating import STATIC

NAME = "Hello Client inbox"
BRAND = "#2d6a5a"
LIGHT_BACKGROUND = "#f5f6f8"  # --bg in static/app.css, the colour of the splash screen

MANIFEST: dict[str, Any] = {
    "id": "/",
    "name": NAME,
    "short_name": "Inbox",
    "description": "Leads, appointments and chat logs from your Hello Client chatbots.",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "background_color": LIGHT_BACKGROUND,
    "theme_color": BRAND,
    "icons": [
        {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {
            "src": "/static/icon-maskable-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
        {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
    ],
}
SERVICE_WORKER = (STATIC / "sw.js").read_bytes()


class ManifestResponse(JSONResponse):
    media_type = "application/manifest+json"


async def manifest(request: Request) -> Response:
    return ManifestResponse(MANIFEST)


async def service_worker(request: Request) -> Response:
    return Response(SERVICE_WORKER, media_type="text/javascript")


ROUTES = [
    Route("/manifest.webmanifest", manifest, methods=["GET"]),
    Route("/sw.js", service_worker, methods=["GET"]),
]
