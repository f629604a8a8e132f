"""FDSN web services, so that ObsPy's ``obspy.clients.fdsn.Client`` works unmodified."""
