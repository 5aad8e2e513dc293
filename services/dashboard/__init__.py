"""The live dashboard (stdlib HTTP + Server-Sent Events): `serve_dashboard(...)`."""

from services.dashboard.server import DashboardServer, serve_dashboard

__all__ = ["DashboardServer", "serve_dashboard"]
