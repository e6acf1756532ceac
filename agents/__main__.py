"""``python -m agents`` runs the qwengraph CLI."""

from agents.cli import main

main()
