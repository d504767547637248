"""Contract-test mixins: one class per role; every backend test class inherits it with its own fixture."""
