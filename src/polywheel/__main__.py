from polywheel.cli import main

raise SystemExit(main())
