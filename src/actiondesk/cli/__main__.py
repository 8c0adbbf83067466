from actiondesk.cli.main import main

main()
