"""Plotly Dash views: regulators' regional maps and enterprises' live twins (Chinese first)."""
