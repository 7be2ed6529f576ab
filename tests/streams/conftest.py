"""The run engine's fixtures (signed demo bundles, a localhost site, a started RunManager)."""

from tests.runs.conftest import built_bundles, import_bundle, local_site, manager  # noqa: F401
