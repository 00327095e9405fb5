"""Development only: the runner, its mail catcher and private Redis, and the demo data."""
