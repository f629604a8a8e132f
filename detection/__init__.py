"""Larza detection: pure numpy/scipy streaming filters, STA/LTA, triggers and association."""
