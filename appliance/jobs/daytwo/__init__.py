"""Day two: what an installed site is doing (status playbooks), whether it needs attention,
and service control (operations run through the normal run path, action ``operate``)."""
