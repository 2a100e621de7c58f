from rayship.cli import main

raise SystemExit(main())
