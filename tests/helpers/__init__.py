"""What several test files share, imported by name (``from helpers.sample_recipes import window_recipe``):
tests/ is on sys.path (pyproject's ``pythonpath``). Fixtures stay in conftest.py files; nothing here
is imported from a conftest."""
