"""Input guard: decides per tick which sources to trust. Pure functions, no I/O."""
