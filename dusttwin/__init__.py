"""dusttwin's shell: settings and database plumbing every room uses, and the CLI that wires them."""

__version__ = "0.1.0"
__all__ = ["__version__"]
