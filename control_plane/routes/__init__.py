"""Route groups of the REST API (Chalice blueprints), registered in ``control_plane/app.py``."""
