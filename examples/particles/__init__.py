"""Particle-based trigger networks: data sets (:mod:`.data`), the four reference architectures
(:mod:`.models`) and their training to a verified design folder (:mod:`.train`)."""
