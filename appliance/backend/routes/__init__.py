"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import (
    backups,
    bundles,
    daytwo,
    health,
    keys,
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
    daytwo,
    bundles,
    keys,
    runs,
    backups,
    reports,
    streams,
    schedules,
    ui,
)
