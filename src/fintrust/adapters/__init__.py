"""Adapters at the edge: the database and Trustly."""
