"""Reports for people: Markdown/JSON summaries and matplotlib plots of a firmware and its synthesis."""
