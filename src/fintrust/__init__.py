"""fintrust: move money through Trustly.

The wire protocol lives in :mod:`fintrust.trustly`; it can be used on its own.
"""

__version__ = "0.1.0"
