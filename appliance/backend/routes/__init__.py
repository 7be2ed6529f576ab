"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import (
    bundles,
    health,
    keys,
    logsearch,
    reports,
    runs,
    schedules,
    site_extras,
    sites,
    streams,
    ui,
)

ROUTE_MODULES = (
    health,
    sites,
    site_extras,
    bundles,
    keys,
    runs,
    reports,
    streams,
    schedules,
    logsearch,
    ui,
)
