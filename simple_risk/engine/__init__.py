"""The pure engine: DSL, compiler, fact store, evaluation, timers. No network, no database."""
