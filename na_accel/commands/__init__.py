"""What each command does on a model, apart from its command line (``na_accel.cli``): ``bench`` times
dense vs patched, ``compare`` writes their outputs and quality metrics, ``estimate`` prices a recipe
without running it (``estimate_recipe``, public), ``calibrate`` measures a cost profile, ``tune``
runs ``na_accel.tune`` and reports. Built on the core, never imported by it."""
