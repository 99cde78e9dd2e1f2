"""Framework integrations. Each module imports its framework lazily: install the
framework to use it (``iron_cage.integrations.langchain`` needs ``langchain-core``)."""
