"""The version of actiondesk (re-exported as ``actiondesk.__version__``)."""

__version__ = "0.1.0"
