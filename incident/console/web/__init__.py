"""The served console's page template: every asset is local."""
