"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import bundles, health, reports, runs, schedules, sites, streams, ui

ROUTE_MODULES = (health, sites, bundles, runs, reports, streams, schedules, ui)
