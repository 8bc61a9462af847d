from gpt2giga.cli import main

main()
