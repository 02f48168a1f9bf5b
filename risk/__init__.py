"""Alarm rules, the risk model and the RQ jobs that keep twins' risk current."""
