"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import (
    bundles,
    health,
    reports,
    runs,
    schedules,
    site_extras,
    sites,
    streams,
    ui,
)

ROUTE_MODULES = (health, sites, site_extras, bundles, runs, reports, streams, schedules, ui)
