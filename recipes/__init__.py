"""Recipes shipped with na_accel, loaded by bare name: ``na_accel.load_recipe("flux_gna")`` (see na_accel.recipe_sources)."""
