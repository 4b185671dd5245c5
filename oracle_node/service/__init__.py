"""The daemon: one loop per market (fetch -> guard -> infer -> bound-check -> sign -> send), metrics, health."""
