"""Larza stations: station metadata and the database."""
