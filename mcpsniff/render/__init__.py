"""Renderers: views of the analysis document (mcpsniff.analysis.document)."""
