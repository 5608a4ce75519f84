"""Model names to something to run: the one list of names (``model_list``), loading them (``zoo``: tiny
presets, random-weight full-size transformers in a ``synthetic`` loop, real weights), what a family's
full-size transformer is without its weights (``family_model``), and the coverage table of the
installed diffusers (``coverage``)."""
