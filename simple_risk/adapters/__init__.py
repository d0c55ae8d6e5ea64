"""Adapters between the outside world and the engine: TopstepX, the simulator, replay files."""
