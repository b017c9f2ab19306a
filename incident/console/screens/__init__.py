"""The console's screens: home, start, incident, notify preview, directory, dialogs."""
