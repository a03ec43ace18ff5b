"""The progress report rendered from the published marts."""
