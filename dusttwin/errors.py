"""The exception tree of the platform's shell (settings, database plumbing, migrations, CLI)."""


class DusttwinError(Exception):
    """Base of every error the shell raises on purpose."""


class ConfigurationError(DusttwinError):
    """The settings or the machine do not allow what was asked (the message says how to fix it)."""


class MigrationError(DusttwinError):
    """A schema migration could not be applied, or the applied history disagrees with the code."""
