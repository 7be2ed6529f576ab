"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import bundles, health, reports, runs, schedules, sites, ui

ROUTE_MODULES = (health, sites, bundles, runs, reports, schedules, ui)
