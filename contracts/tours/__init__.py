"""The responses layer's tours: one scripted request per documented answer of an API, strictly validated."""
