"""Running the whole stack: `mediawatch up`, the sample corpus and its feed server."""
