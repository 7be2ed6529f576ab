"""The row types the store's queries hand out, named for annotations outside the store.

Code outside ``store/`` reads these rows' fields but never queries through them: every query
lives in a ``store`` module, and nothing outside ``store/`` imports ``store.models``.
"""

from appliance.store.models import Bundle, Run, Schedule, Site

__all__ = ["Bundle", "Run", "Schedule", "Site"]
