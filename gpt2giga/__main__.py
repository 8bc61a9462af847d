"""`python -m gpt2giga`: the command line."""

from gpt2giga.cli import main

main()
