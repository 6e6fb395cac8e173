"""Hello Client inbox: a self-hosted, verified receiver and inbox for Hello Client webhooks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hello-client-inbox")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
