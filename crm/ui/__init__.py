"""The dealership's browser UI for prospects, leads, activities and tasks."""
