"""The ceiling: a bare Starlette endpoint that only answers success, served like the app."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SUCCESS = b'{"status":"success"}'


async def webhook(request: Request) -> Response:
    await request.body()  # read it, as any receiver must
    return Response(SUCCESS, media_type="application/json")


app = Starlette(routes=[Route("/webhook", webhook, methods=["POST"])])
