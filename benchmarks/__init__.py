"""flask-tiktok's benchmarks, side by side with the peers and the floor.

``python -m benchmarks`` runs every row (see :mod:`benchmarks.run`); nothing
reaches the network: TikTok is flask-tiktok's sandbox on loopback or
requests-mock, PostgreSQL a server of its own on loopback unless one is given.
"""
