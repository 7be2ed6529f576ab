"""Route modules; each has ``register(app: Bottle, ctx: Context)``."""

from appliance.backend.routes import (
    backups,
    bundles,
    data,
    daytwo,
    health,
    keys,
    logsearch,
    reports,
    runs,
    schedules,
    site_extras,
    siteconfig,
    sites,
    streams,
    ui,
)

ROUTE_MODULES = (
    health,
    sites,
    site_extras,
    daytwo,
    siteconfig,
    bundles,
    keys,
    runs,
    backups,
    reports,
    streams,
    schedules,
    logsearch,
    data,
    ui,
)
