"""The domain: pure Python, no I/O. Money, ledger rules, and the order state machines."""
