from iron_cage.cli import main

raise SystemExit(main())
