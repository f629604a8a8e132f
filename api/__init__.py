"""Larza API: the HTTP process."""
