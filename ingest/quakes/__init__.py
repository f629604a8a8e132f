"""Earthquakes from picks: the ObsPy side (velocity models and TauP tables, Wood-Anderson
amplitudes, response-corrected ground motion). The computations themselves are in
``detection`` (pure NumPy/SciPy)."""
