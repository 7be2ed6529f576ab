"""Jobs: what the appliance does over time (bundle import, runs, log tails, schedules)."""
