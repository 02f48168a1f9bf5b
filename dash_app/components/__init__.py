"""Pure builders of page parts: plain data in, Dash components out."""
