"""A tiny Lambda code package for the in-process runtime tests (stands in for control_plane/)."""
